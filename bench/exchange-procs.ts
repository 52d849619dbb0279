/**
 * bench/exchange's processes: daemons and CLI commands in process groups of their own (killed on
 * error, timeout and signals), and what is measured of them (RSS, CPU seconds per thread kind).
 */
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnDaemon } from '../src/api/spawn.js'
import type { SpawnedDaemon } from '../src/api/spawn.js'

const second = 1000
const minute = 60 * second
const DAEMON_READY_TIMEOUT = minute
const DAEMON_STOP_GRACE = 15 * second
const RSS_POLL_INTERVAL = 50
export const CLI = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'), 'dist/bin/shoal.js')

// ---- children: daemons and CLI commands -----------------------------------------------------

export type Child = ReturnType<typeof spawn>

/** Every child still running, killed on error, timeout and signals */
export const children = new Set<Child>()

export function killGroup (child: Child | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child?.pid == null || child.exitCode != null || child.signalCode != null) return
  try { process.kill(-child.pid, signal) } catch {}
}

export function killAll (): void {
  for (const c of children) killGroup(c)
}

/** Spawn `node CLI ...args` in its own process group, so a kill also ends anything it started */
export function spawnCli (args: string[]): Child {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  children.add(child)
  child.on('close', () => { children.delete(child) })
  return child
}

export interface CommandResult {
  ms: number
  /** The last stdout line, parsed */
  json: any
  stderr: string
}

/**
 * Run a CLI command to completion and parse its last stdout line as JSON. `onStderrLine` gets
 * each stderr line with the time (performance.now()) it arrived.
 */
export async function cli (args: string[], timeoutMs: number, onStderrLine?: (line: string, at: number) => void): Promise<CommandResult> {
  const started = performance.now()
  const child = spawnCli(args)
  let stdout = ''
  let stderr = ''
  let partial = ''
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr = (stderr + s).slice(-64 * 1024)
    if (onStderrLine == null) return
    const at = performance.now()
    const lines = (partial + s).split('\n')
    partial = lines.pop() ?? ''
    for (const l of lines) onStderrLine(l, at)
  })
  const timer = setTimeout(() => { killGroup(child) }, timeoutMs)
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', (c, s) => { resolve([c, s]) })
    })
    const ms = performance.now() - started
    const what = `shoal ${args.filter(a => a !== '--json').join(' ')}`
    if (code !== 0) {
      throw new Error(`${what} exited with ${code ?? signal}${signal === 'SIGKILL' ? ` (timeout ${Math.round(timeoutMs / 1000)} s?)` : ''}\n${stderr.slice(-4000)}`)
    }
    const last = stdout.trim().split('\n').pop() ?? ''
    let json
    try {
      json = JSON.parse(last)
    } catch {
      throw new Error(`${what}: last stdout line is not JSON: ${last.slice(0, 500)}`)
    }
    return { ms, json, stderr }
  } finally {
    clearTimeout(timer)
  }
}

export interface Daemon extends SpawnedDaemon {
  name: string
  pid: number
  /** The TCP listen address, with /p2p/<peer id> */
  addr: string
}

export const daemons = new Set<Daemon>()

/** `shoal --repo R --json start` in its own process group; resolves once it is ready */
export async function spawnPeer (name: string, repo: string): Promise<Daemon> {
  const spawned = await spawnDaemon({ repo, detached: true, readyTimeoutMs: DAEMON_READY_TIMEOUT, stderrTail: 16 * 1024 })
  const child = spawned.child
  children.add(child)
  child.on('close', () => { children.delete(child) })
  const addr = spawned.addresses.find(a => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//.test(a))
  if (addr == null || child.pid == null) {
    killGroup(child)
    throw new Error(`daemon ${name} has no loopback TCP address: ${JSON.stringify(spawned.addresses)}`)
  }
  const d: Daemon = { ...spawned, name, pid: child.pid, addr }
  daemons.add(d)
  void spawned.exited.then((code) => {
    if (daemons.has(d)) process.stderr.write(`bench/exchange: daemon ${name} exited unexpectedly (${code})\n${spawned.stderr().slice(-4000)}\n`)
  })
  return d
}

/** SIGTERM, then SIGKILL to its group if it has not stopped after the grace period */
export async function stopDaemon (d: Daemon): Promise<void> {
  daemons.delete(d)
  await d.stop('SIGTERM', { graceMs: DAEMON_STOP_GRACE })
}

// ---- measuring -------------------------------------------------------------------------------

export function readStatus (pid: number): { rss?: number, hwm?: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8')
    const rss = /VmRSS:\s+(\d+) kB/.exec(s)
    const hwm = /VmHWM:\s+(\d+) kB/.exec(s)
    return { rss: rss == null ? undefined : Number(rss[1]) * 1024, hwm: hwm == null ? undefined : Number(hwm[1]) * 1024 }
  } catch {
    return {}
  }
}

let clockTicks: number | undefined

/** CPU seconds (user + system) a process has used so far; NaN when /proc cannot tell */
export function cpuSeconds (pid: number): number {
  try {
    clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    clockTicks = 100
  }
  try {
    // the fields after "(comm) ": state is field 3, utime 14, stime 15
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / clockTicks
  } catch {
    return NaN
  }
}

/** Thread kinds of a Node process, by the name Linux shows for the thread */
export const THREAD_KINDS: Array<[string, (comm: string) => boolean]> = [
  ['block I/O thread', c => c === 'WorkerThread'],
  ['GC helpers', c => c.startsWith('V8Worker') || c.startsWith('V8 DefaultWorke')],
  ['thread pool', c => c.startsWith('libuv-worker')]
]

/** CPU seconds per kind of thread of a process (the main thread is the event loop) */
export function threadCpu (pid: number): Record<string, number> {
  clockTicks ??= 100
  const out: Record<string, number> = {}
  let tids: string[] = []
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const kind = tid === String(pid) ? 'event loop' : THREAD_KINDS.find(([, match]) => match(comm))?.[0] ?? 'other'
      out[kind] = (out[kind] ?? 0) + (Number(fields[11]) + Number(fields[12])) / clockTicks
    } catch {}
  }
  return out
}

export function threadCpuDiff (before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [kind, s] of Object.entries(after)) {
    const d = s - (before[kind] ?? 0)
    if (d > 0.005) out[kind] = Math.round(d * 100) / 100
  }
  return out
}

export interface RssWindow {
  /** VmRSS when the window opened */
  startRss?: number
  /** Largest VmRSS sampled */
  sampledPeak?: number
  /** VmHWM when the window closed: since the window opened when hwmReset, else since start */
  hwm?: number
  hwmReset: boolean
  /** The figure the target uses */
  peak?: number
}

/** Sample a process's memory while `fn` runs */
export async function watchRss<T> (pid: number, fn: () => Promise<T>): Promise<[T, RssWindow]> {
  let hwmReset = false
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5') // resets VmHWM to the current RSS (Linux >= 4.0)
    hwmReset = true
  } catch {}
  const startRss = readStatus(pid).rss
  let sampledPeak = startRss
  const sample = (): void => {
    const { rss } = readStatus(pid)
    if (rss != null) sampledPeak = Math.max(sampledPeak ?? 0, rss)
  }
  const timer = setInterval(sample, RSS_POLL_INTERVAL)
  try {
    const result = await fn()
    sample()
    const { hwm } = readStatus(pid)
    const peak = hwmReset && hwm != null ? Math.max(hwm, sampledPeak ?? 0) : sampledPeak
    return [result, { startRss, sampledPeak, hwm, hwmReset, peak }]
  } finally {
    clearInterval(timer)
  }
}
