// A client for the Confluent Schema Registry REST API (served by Confluent's registry, and by
// Apicurio Registry at /apis/ccompat/v7): register a schema under a subject with a compatibility
// level, and fetch schemas by id. Schemas are immutable per id, so each id is fetched once and
// cached for the life of the process; only a new id needs the registry to be up.
import { ServiceError, TickflowError } from '../errors.ts'

export interface RegistryOptions {
  /** Base URL, e.g. http://127.0.0.1:8081 or http://registry:8080/apis/ccompat/v7. */
  url: string
  username?: string
  password?: string
  /** Per-request timeout (default 5 s). */
  timeoutMs?: number
}

/** The registry refused a schema (409: incompatible, 422: invalid); not worth retrying. */
export class SchemaRejectedError extends TickflowError {
  constructor(subject: string, answer: string) {
    super('TF_SCHEMA_REJECTED', `the schema registry refused the schema for ${subject}: ${answer}`)
    this.name = 'SchemaRejectedError'
  }
}

export type Compatibility = 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FULL' | 'NONE'

export class SchemaRegistry {
  readonly #base: string
  readonly #auth: string | undefined
  readonly #timeoutMs: number
  readonly #byId = new Map<number, string>()
  /** Registrations under way, by subject, level and schema text: callers at once share one. */
  readonly #registering = new Map<string, Promise<number>>()

  constructor(o: RegistryOptions) {
    this.#base = o.url.replace(/\/+$/, '')
    this.#auth =
      o.username !== undefined
        ? `Basic ${Buffer.from(`${o.username}:${o.password ?? ''}`).toString('base64')}`
        : undefined
    this.#timeoutMs = o.timeoutMs ?? 5000
  }

  /**
   * Sets the subject's compatibility level, then registers the schema (an identical schema gets its
   * existing id back). Resolves to the schema id.
   */
  register(subject: string, schema: object, compatibility: Compatibility = 'BACKWARD'): Promise<number> {
    // The registry checks "is this schema already a version?" and adds one in two steps, so
    // requests at once for a schema it does not hold yet can each add a version (Apicurio).
    const key = JSON.stringify([subject, compatibility, schema])
    const running = this.#registering.get(key)
    if (running) return running
    const p = this.#register(subject, schema, compatibility).finally(() => this.#registering.delete(key))
    this.#registering.set(key, p)
    return p
  }

  async #register(subject: string, schema: object, compatibility: Compatibility): Promise<number> {
    const s = encodeURIComponent(subject)
    const level = { compatibility }
    // Two producers setting a new subject's level at once: the registry may refuse the second
    // as a conflict with the first (Apicurio: "A rule named 'COMPATIBILITY' already exists");
    // the level exists by then, and setting it again updates it.
    await this.#request('PUT', `/config/${s}`, subject, level).catch((err: unknown) => {
      if (!(err instanceof SchemaRejectedError)) throw err
      return this.#request('PUT', `/config/${s}`, subject, level)
    })
    const request = { schema: JSON.stringify(schema), schemaType: 'AVRO' }
    // A schema already registered is looked up, not registered again: producers starting later
    // than the first add nothing.
    let body: unknown = await this.#request('POST', `/subjects/${s}`, subject, request, true)
    if (body === undefined)
      try {
        body = await this.#request('POST', `/subjects/${s}/versions`, subject, request)
      } catch (err) {
        // A retry of a registration whose answer was lost (a timeout) can be refused as a conflict
        // with the version that first request made: if the subject holds this very schema, that
        // version's id is the answer.
        if (!(err instanceof SchemaRejectedError)) throw err
        body = await this.#request('POST', `/subjects/${s}`, subject, request, true)
        if (body === undefined) throw err
      }
    const id = (body as { id?: unknown }).id
    if (typeof id !== 'number')
      throw new ServiceError('registry', `registry answered without an id for ${subject}`)
    return id
  }

  /** The schema text of an id, or undefined when the registry does not know the id. */
  async schemaText(id: number): Promise<string | undefined> {
    const cached = this.#byId.get(id)
    if (cached !== undefined) return cached
    const body = await this.#request('GET', `/schemas/ids/${id}`, `schema id ${id}`, undefined, true)
    if (body === undefined) return undefined
    const text = (body as { schema?: unknown }).schema
    if (typeof text !== 'string')
      throw new ServiceError('registry', `registry answered without a schema for id ${id}`)
    this.#byId.set(id, text)
    return text
  }

  /** The registered versions of a subject, oldest first. */
  async versions(subject: string): Promise<number[]> {
    return (await this.#request(
      'GET',
      `/subjects/${encodeURIComponent(subject)}/versions`,
      subject,
    )) as number[]
  }

  /** GET /subjects: answers when the registry is up (doctor, readiness). */
  async subjects(): Promise<string[]> {
    return (await this.#request('GET', '/subjects', 'subjects')) as string[]
  }

  async #request(
    method: string,
    path: string,
    what: string,
    body?: unknown,
    notFoundIsUndefined = false,
  ): Promise<unknown> {
    const headers: Record<string, string> = {
      accept: 'application/vnd.schemaregistry.v1+json, application/json',
    }
    if (body !== undefined) headers['content-type'] = 'application/vnd.schemaregistry.v1+json'
    if (this.#auth) headers.authorization = this.#auth
    let res: Response
    try {
      res = await fetch(`${this.#base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
    } catch (err) {
      const why = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err)
      throw new ServiceError('registry', `schema registry at ${this.#base} unreachable (${why})`, {
        cause: err,
      })
    }
    const text = await res.text()
    if (res.ok) return text === '' ? {} : (JSON.parse(text) as unknown)
    if (res.status === 404 && notFoundIsUndefined) return undefined
    const answer = registryMessage(text) ?? `HTTP ${res.status}`
    if (res.status === 409 || res.status === 422) throw new SchemaRejectedError(what, answer)
    throw new ServiceError('registry', `schema registry: ${method} ${path} failed: ${answer}`, {
      retryable: res.status >= 500 || res.status === 429,
    })
  }
}

function registryMessage(text: string): string | undefined {
  try {
    const m = (JSON.parse(text) as { message?: unknown }).message
    return typeof m === 'string' ? m : undefined
  } catch {
    return text.slice(0, 300) || undefined
  }
}
