// Starts real Apache Kafka brokers (KRaft, from the jars scripts/kafka-jars.sh fetched) on loopback
// for tests and benchmarks, with the Prometheus JMX exporter agent attached. One node is a
// combined broker+controller; a cluster of three shares a static controller quorum.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync, existsSync, openSync } from 'node:fs'
import { createConnection } from 'node:net'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export const root = resolve(import.meta.dirname, '../..')
const kafkaHome = join(root, '.cache/kafka')
const classpath = join(kafkaHome, 'libs/*')
const agent = join(kafkaHome, 'agent/jmx_prometheus_javaagent-1.0.1.jar')

export interface KafkaNodeSpec {
  nodeId: number
  port: number
  controllerPort: number
  jmxPort: number
}

export interface KafkaCluster {
  brokers: string
  nodes: KafkaNode[]
  stop(): Promise<void>
}

export interface KafkaNode {
  spec: KafkaNodeSpec
  pid(): number | undefined
  start(): Promise<void>
  /** SIGTERM and wait (controlled shutdown). */
  stop(): Promise<void>
  /** SIGKILL: a crash. */
  kill(): Promise<void>
}

function java(args: string[]): string {
  return execFileSync('java', ['-Xmx256m', '-cp', classpath, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

export function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolvePromise, reject) => {
    const attempt = (): void => {
      const sock = createConnection({ host: '127.0.0.1', port })
      sock.once('connect', () => {
        sock.destroy()
        resolvePromise()
      })
      sock.once('error', () => {
        sock.destroy()
        if (Date.now() > deadline)
          reject(new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`))
        else setTimeout(attempt, 200)
      })
    }
    attempt()
  })
}

export function serverProperties(
  spec: KafkaNodeSpec,
  voters: string,
  dataDir: string,
  replication: number,
): string {
  const minIsr = replication >= 3 ? 2 : 1
  return [
    'process.roles=broker,controller',
    `node.id=${spec.nodeId}`,
    `controller.quorum.voters=${voters}`,
    `listeners=PLAINTEXT://127.0.0.1:${spec.port},CONTROLLER://127.0.0.1:${spec.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${spec.port},CONTROLLER://127.0.0.1:${spec.controllerPort}`,
    'inter.broker.listener.name=PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    'num.network.threads=2',
    'num.io.threads=4',
    `default.replication.factor=${replication}`,
    `min.insync.replicas=${minIsr}`,
    `offsets.topic.replication.factor=${replication}`,
    `transaction.state.log.replication.factor=${replication}`,
    `transaction.state.log.min.isr=${minIsr}`,
    `share.coordinator.state.topic.replication.factor=${replication}`,
    `share.coordinator.state.topic.min.isr=${minIsr}`,
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    // Tests stop and start brokers; do not let a stopped broker be fenced for long.
    'broker.session.timeout.ms=6000',
    '',
  ].join('\n')
}

/**
 * Formats and starts `specs.length` nodes under `dir` (created). With one node the cluster is a
 * single combined broker+controller; with three, replication 3 and min.insync.replicas 2.
 */
export async function startKafka(dir: string, specs: KafkaNodeSpec[]): Promise<KafkaCluster> {
  if (!existsSync(agent)) throw new Error('Kafka jars missing: run scripts/kafka-jars.sh')
  mkdirSync(dir, { recursive: true })
  const voters = specs.map((s) => `${s.nodeId}@127.0.0.1:${s.controllerPort}`).join(',')
  const clusterId = java(['kafka.tools.StorageTool', 'random-uuid']).trim()
  const jmxConfig = join(root, 'deploy/kafka/jmx-exporter.yml')
  const nodes = specs.map((spec): KafkaNode => {
    const nodeDir = join(dir, `node-${spec.nodeId}`)
    const dataDir = join(nodeDir, 'data')
    const logsDir = join(nodeDir, 'logs')
    mkdirSync(logsDir, { recursive: true })
    const props = join(nodeDir, 'server.properties')
    writeFileSync(props, serverProperties(spec, voters, dataDir, specs.length >= 3 ? 3 : 1))
    java(['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props, '--ignore-formatted'])
    let child: ChildProcess | undefined
    const exited = (): Promise<void> =>
      child && child.exitCode === null && child.signalCode === null
        ? new Promise((r) => child!.once('exit', () => r()))
        : Promise.resolve()
    return {
      spec,
      pid: () => child?.pid,
      async start() {
        const out = openSync(join(logsDir, 'stderr.log'), 'a')
        child = spawn(
          'java',
          [
            '-Xms512m',
            '-Xmx1g',
            '-XX:+UseG1GC',
            '-XX:MaxGCPauseMillis=20',
            `-Dkafka.logs.dir=${logsDir}`,
            `-Dlog4j2.configurationFile=${join(root, 'deploy/kafka/log4j2.yaml')}`,
            `-javaagent:${agent}=127.0.0.1:${spec.jmxPort}:${jmxConfig}`,
            '-cp',
            classpath,
            'kafka.Kafka',
            props,
          ],
          { stdio: ['ignore', out, out], detached: true },
        )
        child.unref()
        // A JVM broker on two busy cores can take over a minute to listen.
        await waitForPort(spec.port, 180_000)
      },
      async stop() {
        if (child?.pid && child.exitCode === null && child.signalCode === null) {
          process.kill(child.pid, 'SIGTERM')
          await Promise.race([exited(), sleep(30_000)])
          if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL')
          await exited()
        }
      },
      async kill() {
        if (child?.pid && child.exitCode === null && child.signalCode === null) {
          process.kill(child.pid, 'SIGKILL')
          await exited()
        }
      },
    }
  })
  await Promise.all(nodes.map((n) => n.start()))
  return {
    brokers: specs.map((s) => `127.0.0.1:${s.port}`).join(','),
    nodes,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()))
    },
  }
}
