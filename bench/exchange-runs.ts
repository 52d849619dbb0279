/**
 * bench/exchange's runs (a fetch, the raw and hashed raw streams, the stock libp2p stream) and
 * their set-up (input file, configs, repos).
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { children, cli, cpuSeconds, killGroup, threadCpu, threadCpuDiff, watchRss } from './exchange-procs.js'
import type { Child, Daemon, RssWindow } from './exchange-procs.js'

const MiB = 1024 * 1024
const MB = 1e6
const second = 1000
const minute = 60 * second
/** A transfer slower than `floor` bytes/s (plus 2 min of slack) is stuck: kill it */
export const transferTimeout = (bytes: number, floor: number): number => 2 * minute + bytes / floor * second
export const COMMAND_TIMEOUT = 2 * minute
/** Burst of the upload token bucket, as in src/exchange/rate.ts */
const BUCKET_BURST = second
export const LOCAL_CONFIG = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'), 'configs/local.json')

export interface FetchRun {
  MBps: number
  wallMs: number
  durationMs: number
  bytes: number
  duplicates: number
  /** Spawn of `shoal fetch` to its first fetch:block event */
  firstBlockMs?: number
  /** Peers that joined the fetch session */
  joined: string[]
  /** CPU seconds the fetcher and each source used during the transfer */
  cpu: { fetcher: number, sources: number[] }
  /** The fetcher's CPU seconds by kind of thread */
  fetcherThreads: Record<string, number>
  /** The first source's CPU seconds by kind of thread */
  sourceThreads: Record<string, number>
  rss: RssWindow
}

/** `shoal fetch CID --from ...` on `fetcher`, checked, timed, memory watched; then empty its store */
export async function fetchOnce (fetcher: Daemon, cid: string, blockBytes: number, from: Daemon[], timeoutMs: number): Promise<FetchRun> {
  const events: Array<{ at: number, fetchedBytes: number }> = []
  const joined = new Set<string>()
  const started = performance.now()
  const cpu0 = [fetcher, ...from].map(d => cpuSeconds(d.pid))
  const threads0 = threadCpu(fetcher.pid)
  const sourceThreads0 = threadCpu(from[0].pid)
  let threads1: Record<string, number> | undefined
  let sourceThreads1: Record<string, number> | undefined
  let cpu1: number[] = []
  const [res, rss] = await watchRss(fetcher.pid, async () => await cli(
    ['--repo', fetcher.repo, '--json', 'fetch', cid, ...from.flatMap(d => ['--from', d.addr])],
    timeoutMs,
    (line, at) => {
      if (!line.startsWith('{')) return
      try {
        const e = JSON.parse(line)
        if (e.type === 'fetch:block') events.push({ at, fetchedBytes: e.fetchedBytes })
        if (e.type === 'fetch:peer' && e.joined === true) joined.add(e.peerId)
        if (e.type === 'fetch:done') {
          cpu1 = [fetcher, ...from].map(d => cpuSeconds(d.pid))
          threads1 = threadCpu(fetcher.pid)
          sourceThreads1 = threadCpu(from[0].pid)
        }
      } catch {}
    }
  ))
  if (cpu1.length === 0) cpu1 = [fetcher, ...from].map(d => cpuSeconds(d.pid))
  const fetcherThreads = threadCpuDiff(threads0, threads1 ?? threadCpu(fetcher.pid))
  const sourceThreads = threadCpuDiff(sourceThreads0, sourceThreads1 ?? threadCpu(from[0].pid))
  const cpu = cpu1.map((c, i) => c - cpu0[i])
  const r = res.json
  if (r.cid !== cid || r.bytes !== blockBytes || r.fetchedBytes !== blockBytes) {
    throw new Error(`fetch on ${fetcher.name} returned ${JSON.stringify(r)}; expected ${blockBytes} block bytes of ${cid}, all from the network`)
  }
  // empty the store for the next fetch
  await cli(['--repo', fetcher.repo, '--json', 'pin', 'rm', cid], COMMAND_TIMEOUT)
  await cli(['--repo', fetcher.repo, '--json', 'gc'], COMMAND_TIMEOUT)
  const st = (await cli(['--repo', fetcher.repo, '--json', 'stats'], COMMAND_TIMEOUT)).json
  if (st.store.blocks !== 0) throw new Error(`${fetcher.name}'s store still holds ${st.store.blocks} blocks after pin rm + gc`)
  return {
    MBps: r.bytes / MB / (r.durationMs / second),
    wallMs: res.ms,
    durationMs: r.durationMs,
    bytes: r.bytes,
    duplicates: r.duplicates,
    firstBlockMs: events.length > 0 ? events[0].at - started : undefined,
    joined: [...joined],
    cpu: { fetcher: cpu[0], sources: cpu.slice(1) },
    fetcherThreads,
    sourceThreads,
    rss
  }
}

export async function rawOnce (fetcher: Daemon, source: Daemon, bytes: number, timeoutMs: number, hash = false): Promise<{ MBps: number, wallMs: number, rss: RssWindow, cpu: { fetcher: number, sources: number[] }, fetcherThreads: Record<string, number>, sourceThreads: Record<string, number> }> {
  const cpu0 = [cpuSeconds(fetcher.pid), cpuSeconds(source.pid)]
  const threads0 = [threadCpu(fetcher.pid), threadCpu(source.pid)]
  const [res, rss] = await watchRss(fetcher.pid, async () => await cli(['--repo', fetcher.repo, '--json', 'perf', source.addr, '--bytes', String(bytes), ...(hash ? ['--hash'] : [])], timeoutMs))
  const cpu1 = [cpuSeconds(fetcher.pid), cpuSeconds(source.pid)]
  const threads1 = [threadCpu(fetcher.pid), threadCpu(source.pid)]
  if (res.json.bytes !== bytes) throw new Error(`perf returned ${JSON.stringify(res.json)}, expected ${bytes} bytes`)
  if (hash && res.json.hashed?.pieces !== Math.ceil(bytes / MiB)) throw new Error(`perf --hash returned ${JSON.stringify(res.json)}, expected ${Math.ceil(bytes / MiB)} pieces`)
  return {
    MBps: res.json.bytes / MB / res.json.seconds,
    wallMs: res.ms,
    rss,
    cpu: { fetcher: cpu1[0] - cpu0[0], sources: [cpu1[1] - cpu0[1]] },
    fetcherThreads: threadCpuDiff(threads0[0], threads1[0]),
    sourceThreads: threadCpuDiff(threads0[1], threads1[1])
  }
}

export const STOCK_STREAM = fileURLToPath(new URL('./stock-stream.js', import.meta.url))

/** The stock libp2p stream's server, in its own process group; resolves with its address */
export async function startStockServer (): Promise<{ addr: string, child: Child }> {
  const child = spawn(process.execPath, [STOCK_STREAM, 'serve'], { stdio: ['pipe', 'pipe', 'pipe'], detached: true })
  children.add(child)
  child.on('close', () => { children.delete(child) })
  const addr = await new Promise<string>((resolve, reject) => {
    let stdout = ''
    const timer = setTimeout(() => { reject(new Error('the stock libp2p stream server did not start')) }, COMMAND_TIMEOUT)
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString()
      const line = stdout.split('\n').find(l => l.startsWith('{'))
      if (line != null && stdout.includes('\n')) {
        clearTimeout(timer)
        resolve(JSON.parse(line).addr)
      }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the stock libp2p stream server exited with ${String(code)}`)) })
  })
  return { addr, child }
}

/** MB/s of `bytes` over a stock libp2p stream, received by a process of its own */
export async function stockOnce (addr: string, bytes: number, timeoutMs: number): Promise<number> {
  const child = spawn(process.execPath, [STOCK_STREAM, 'fetch', addr, String(bytes)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  children.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => { killGroup(child) }, timeoutMs)
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  clearTimeout(timer)
  children.delete(child)
  if (code !== 0) throw new Error(`the stock libp2p stream fetch failed (${String(code)}): ${stderr.trim().split('\n').pop() ?? ''}`)
  const r = JSON.parse(stdout.trim().split('\n').pop() ?? '{}')
  if (r.bytes !== bytes) throw new Error(`the stock libp2p stream carried ${String(r.bytes)} bytes, expected ${bytes}`)
  return r.bytes / MB / r.seconds
}

/** MB/s of a fetch from `seeders` capped at `rate` with their buckets' initial burst taken out */
export function burstless (f: FetchRun, seeders: number, rate: number): number {
  return (f.bytes - seeders * rate * BUCKET_BURST / second) / MB / (f.durationMs / second)
}

// ---- set-up ----------------------------------------------------------------------------------

export interface ConfigOptions {
  /** `--no-fsync`: the daemons' stores skip fdatasync (what durability costs a fetch) */
  noFsync: boolean
  /** `--encrypters tls,noise`: the daemons' connection encrypters, in order of preference (default: the config's) */
  encrypters?: string[]
}

export async function writeConfig (file: string, exchange: Record<string, unknown>, { noFsync, encrypters }: ConfigOptions): Promise<void> {
  const config = JSON.parse(await fs.readFile(LOCAL_CONFIG, 'utf8'))
  config.exchange = { ...config.exchange, ...exchange }
  if (noFsync) config.store = { ...config.store, fsync: false }
  if (encrypters != null) config.encrypters = encrypters
  await fs.writeFile(file, JSON.stringify(config, null, 2))
}

/** init a repo from `config` and publish `input` into it offline (no daemon yet); returns the CID */
export async function initAndPublish (repo: string, config: string, input: string, size: number): Promise<string> {
  await cli(['--repo', repo, '--json', 'init', '--config', config], COMMAND_TIMEOUT)
  const r = (await cli(['--repo', repo, '--json', 'publish', input], transferTimeout(size, MB))).json
  if (r.size !== size) throw new Error(`publish reported ${r.size} bytes, expected ${size}`)
  return r.cid
}

/** Block bytes a daemon's exchange server has sent since it started */
export async function bytesSent (d: Daemon): Promise<number> {
  return (await cli(['--repo', d.repo, '--json', 'stats'], COMMAND_TIMEOUT)).json.exchange.server.bytesSent
}

/** Total block bytes in a daemon's store (it holds one DAG only) */
export async function storeBytes (d: Daemon): Promise<number> {
  return (await cli(['--repo', d.repo, '--json', 'stats'], COMMAND_TIMEOUT)).json.store.bytes
}
