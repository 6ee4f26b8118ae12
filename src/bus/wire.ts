// The trade on the wire, in either of the two formats one topic may carry at once:
//   JSON   {"v":1,"type":"trade",...}            (first byte '{')
//   Avro   0x00 | schema id (4 bytes, big-endian) | Avro binary body   (Confluent wire format)
// The consumer chooses by the first byte, so a deployment moves from JSON to Avro without stopping.
// Avro bodies decode with the writer's schema (fetched by id from the registry, then cached) into
// the same object the JSON format carries, so validation is one code path.
import avro from 'avsc'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Trade } from '../domain/trade.ts'
import type { SchemaRegistry } from './registry.ts'
import { backoffDelay } from '../util/backoff.ts'

export const MAGIC_BYTE = 0
const HEADER_BYTES = 5
const schemasDir = join(import.meta.dirname, '../../schemas')

/** The current trade schema (schemas/trade.avsc) and the one it evolved from. */
export function tradeSchema(version: 1 | 2 = 2): object {
  const file = version === 1 ? 'trade.v1.avsc' : 'trade.avsc'
  return JSON.parse(readFileSync(join(schemasDir, file), 'utf8')) as object
}

export type WireFormat = 'json' | 'avro'

/** Avro-framed when the first byte is the magic byte and a schema id follows. */
export function isAvroFramed(value: Buffer): boolean {
  return value.length >= HEADER_BYTES && value[0] === MAGIC_BYTE
}

export function schemaIdOf(value: Buffer): number {
  return value.readUInt32BE(1)
}

/** 2026-11-24T15:30:00.123456Z ↔ microseconds since the epoch (exact; no float on the way). */
export function isoToMicros(iso: string): number {
  const m = /^(.{19})(?:\.(\d{1,9}))?Z$/.exec(iso)
  if (!m) throw new Error(`not an ISO-8601 UTC time: ${iso}`)
  const seconds = Date.parse(`${m[1]}Z`) / 1000
  if (!Number.isFinite(seconds)) throw new Error(`not an ISO-8601 UTC time: ${iso}`)
  return seconds * 1_000_000 + Number((m[2] ?? '').padEnd(6, '0').slice(0, 6))
}

export function microsToIso(us: number): string {
  const ms = Math.floor(us / 1000)
  const micros = us - ms * 1000
  return `${new Date(ms).toISOString().slice(0, 23)}${String(micros).padStart(3, '0')}Z`
}

interface AvroTrade {
  symbol: string
  ts: number
  price: string
  size: string
  source: string
  id: string | null
  recvTs: number | null
  conditions?: string[]
}

/** Encodes trades with one registered schema (the producer's). */
export class AvroTradeEncoder {
  readonly #type: avro.Type
  readonly #header: Buffer

  constructor(schemaId: number, schema: object) {
    this.#type = avro.Type.forSchema(schema as avro.Schema)
    this.#header = Buffer.alloc(HEADER_BYTES)
    this.#header.writeUInt8(MAGIC_BYTE, 0)
    this.#header.writeUInt32BE(schemaId, 1)
  }

  encode(t: Trade & { conditions?: string[] }): Buffer {
    const record: AvroTrade = {
      symbol: t.symbol,
      ts: isoToMicros(t.ts),
      price: t.price,
      size: t.size,
      source: t.source,
      id: t.id ?? null,
      recvTs: t.recvTs === undefined ? null : isoToMicros(t.recvTs),
      conditions: t.conditions ?? [],
    }
    return Buffer.concat([this.#header, this.#type.toBuffer(record)])
  }
}

/** Why an Avro message could not be decoded: a dead-letter reason and its detail. */
export interface Undecodable {
  reason: 'unknown_schema' | 'undecodable'
  detail: string
}

/**
 * Decodes Avro-framed trades by their writer schema. Registry failures (unreachable, 5xx) throw,
 * so the processor keeps the batch and retries; an id the registry does not know, or a body that
 * does not decode with its schema, is the message's own fault and comes back as Undecodable.
 */
export class AvroTradeDecoder {
  readonly #registry: SchemaRegistry | undefined
  readonly #types = new Map<number, avro.Type | Undecodable>()
  /** Ids the registry did not know at the last prepare(): asked again next batch, never cached. */
  #unknown = new Map<number, Undecodable>()

  constructor(registry: SchemaRegistry | undefined) {
    this.#registry = registry
  }

  /** Loads the writer schemas of every id in the batch (one registry call per new id). */
  async prepare(values: Buffer[]): Promise<void> {
    const ids = new Set<number>()
    for (const v of values) if (isAvroFramed(v)) ids.add(schemaIdOf(v))
    this.#unknown = new Map()
    for (const id of ids) {
      if (this.#types.has(id)) continue
      const loaded = await this.#load(id)
      if (loaded instanceof avro.Type || loaded.reason === 'undecodable') this.#types.set(id, loaded)
      else this.#unknown.set(id, loaded)
    }
  }

  /** The trade as the JSON format would carry it, or why not. prepare() must have seen the value. */
  decode(value: Buffer): Record<string, unknown> | Undecodable {
    const id = schemaIdOf(value)
    const type = this.#types.get(id) ?? this.#unknown.get(id)
    if (type === undefined) return { reason: 'unknown_schema', detail: `schema id ${id} was not loaded` }
    if (!(type instanceof avro.Type)) return type
    let t: AvroTrade
    try {
      t = type.fromBuffer(value.subarray(HEADER_BYTES)) as AvroTrade
    } catch (err) {
      return {
        reason: 'undecodable',
        detail: `schema id ${id}: ${err instanceof Error ? err.message : String(err)}`,
      }
    }
    const out: Record<string, unknown> = {
      v: 1,
      type: 'trade',
      symbol: t.symbol,
      ts: microsToIso(t.ts),
      price: t.price,
      size: t.size,
      source: t.source,
    }
    if (t.id !== null) out.id = t.id
    if (t.recvTs !== null) out.recvTs = microsToIso(t.recvTs)
    if (t.conditions !== undefined && t.conditions.length > 0) out.conditions = t.conditions
    return out
  }

  async #load(id: number): Promise<avro.Type | Undecodable> {
    if (!this.#registry)
      return { reason: 'unknown_schema', detail: `schema id ${id}, but no schema registry is configured` }
    const text = await this.#registry.schemaText(id)
    if (text === undefined)
      return { reason: 'unknown_schema', detail: `schema id ${id} is not in the registry` }
    try {
      return avro.Type.forSchema(JSON.parse(text) as avro.Schema)
    } catch (err) {
      return {
        reason: 'undecodable',
        detail: `schema id ${id} is not an Avro schema tickflow reads: ${String(err)}`,
      }
    }
  }
}

/** Turns a trade into a message value in the configured format. */
export type TradeEncoder = (t: Trade & { conditions?: string[] }) => Buffer | string

export interface EncoderOptions {
  format: WireFormat
  registry?: SchemaRegistry
  topic: string
  /** Called before each retry while the registry cannot be reached. */
  onRetry?: (err: unknown, attempt: number) => void
  signal?: AbortSignal
}

/**
 * The producer's encoder. For Avro it registers schemas/trade.avsc under `<topic>-value` with
 * BACKWARD compatibility first, retrying with backoff while the registry is unreachable; a schema
 * the registry refuses (incompatible) is final and rejects with the registry's answer.
 */
export async function tradeEncoder(o: EncoderOptions): Promise<TradeEncoder> {
  if (o.format === 'json') return (t) => JSON.stringify(t)
  if (!o.registry) throw new Error('the avro wire format needs a schema registry')
  const schema = tradeSchema()
  const registry = o.registry
  const id = await retrying(() => registry.register(`${o.topic}-value`, schema, 'BACKWARD'), o)
  const encoder = new AvroTradeEncoder(id, schema)
  return (t) => encoder.encode(t)
}

/** 200 ms doubling to 10 s, equal jitter: never at once, never all together. */
const REGISTRY_RETRY = { initialMs: 200, maxMs: 10_000, maxDoublings: 6, jitter: 'equal' } as const

async function retrying<T>(fn: () => Promise<T>, o: EncoderOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      const retryable = (err as { retryable?: unknown }).retryable === true
      if (!retryable || o.signal?.aborted) throw err
      o.onRetry?.(err, attempt)
      await new Promise((r) => setTimeout(r, backoffDelay(REGISTRY_RETRY, attempt)))
    }
  }
}
