/**
 * `shoal start` as a child process, resolved once it has printed its ready line: the one way the
 * tests, the lab, the benchmarks and `shoal testnet` run a daemon of their own. (`startDaemon` in
 * daemon.ts runs one in this process.)
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { DaemonSpawnError } from '../errors.js'
import type { ChildProcess } from 'node:child_process'

/** The CLI entry point of this installation */
export const SHOAL_BIN = fileURLToPath(new URL('../../bin/shoal.js', import.meta.url))

const second = 1000
const KiB = 1024

export interface SpawnDaemonInit {
  /** The repo the daemon runs */
  repo: string
  /** Arguments after `start` (`--init`, `--listen ...`) */
  args?: string[]
  /**
   * A command the daemon runs under, before `node` (such as `['ip', 'netns', 'exec', NS]`); it
   * must exec node in place, so the child is the daemon
   */
  prefix?: string[]
  env?: NodeJS.ProcessEnv
  /**
   * Run it in a process group of its own, so a signal from `stop` also reaches anything it starts
   * @default false
   */
  detached?: boolean
  /**
   * How long to wait for the ready line
   * @default 60 s
   */
  readyTimeoutMs?: number
  /**
   * How much of the end of its stderr `stderr()` and errors keep
   * @default 64 KiB
   */
  stderrTail?: number
  /** Every chunk of its stderr, as it comes (a log file) */
  onStderr?(chunk: Buffer): void
  /** Aborting kills a daemon that is not ready yet */
  signal?: AbortSignal
}

/** What `shoal --json start` prints once it serves */
export interface ReadyLine {
  peerId: string
  addresses: string[]
  /** HOST:PORT of its control API */
  api: string
  /** HOST:PORT of its HTTP gateway, when it serves one */
  gateway?: string
  dashboard: string
  swarm: string
}

export interface StopOptions {
  /**
   * How long it may take to stop before it is sent SIGKILL
   * @default 15 s
   */
  graceMs?: number
}

export interface SpawnedDaemon extends ReadyLine {
  repo: string
  child: ChildProcess
  /** Resolves with the exit code, or the signal that ended it */
  exited: Promise<number | string | null>
  running(): boolean
  /** The end of what it has written to stderr so far */
  stderr(): string
  /**
   * Send `signal` (SIGTERM by default), then SIGKILL once `graceMs` has passed; resolves with
   * the exit code, or the signal that ended it
   */
  stop(signal?: NodeJS.Signals, options?: StopOptions): Promise<number | string | null>
}

/** Start `shoal --repo REPO --json start ARGS` and wait until it prints its ready line */
export async function spawnDaemon (init: SpawnDaemonInit): Promise<SpawnedDaemon> {
  const command = [...(init.prefix ?? []), process.execPath, SHOAL_BIN, '--repo', init.repo, '--json', 'start', ...(init.args ?? [])]
  const detached = init.detached === true
  const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached, env: init.env ?? process.env })
  const tail = init.stderrTail ?? 64 * KiB
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-tail)
    init.onStderr?.(d)
  })
  const exited = new Promise<number | string | null>(resolve => { child.once('close', (code, signal) => { resolve(code ?? signal) }) })
  const running = (): boolean => child.exitCode == null && child.signalCode == null
  const kill = (signal: NodeJS.Signals): void => {
    if (!running()) return
    try {
      // a detached daemon leads its own group: the group is signalled
      if (detached && child.pid != null) process.kill(-child.pid, signal)
      else child.kill(signal)
    } catch {}
  }

  let ready: ReadyLine
  try {
    ready = await readyLine(child, exited, init, () => stderr)
  } catch (err) {
    kill('SIGKILL')
    throw err
  }
  return {
    ...ready,
    repo: init.repo,
    child,
    exited,
    running,
    stderr: () => stderr,
    stop: async (signal = 'SIGTERM', options = {}) => {
      if (!running()) return exited
      kill(signal)
      const timer = setTimeout(() => { kill('SIGKILL') }, options.graceMs ?? 15 * second)
      try {
        return await exited
      } finally {
        clearTimeout(timer)
      }
    }
  }
}

/** The first stdout line that is a JSON object; the rest of stdout is drained and ignored */
async function readyLine (child: ChildProcess, exited: Promise<number | string | null>, init: SpawnDaemonInit, stderr: () => string): Promise<ReadyLine> {
  const timeoutMs = init.readyTimeoutMs ?? 60 * second
  return new Promise<ReadyLine>((resolve, reject) => {
    let settled = false
    let buf = ''
    const settle = (err: Error | undefined, line?: ReadyLine): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      init.signal?.removeEventListener('abort', onAbort)
      if (err != null) reject(err)
      else resolve(line as ReadyLine)
    }
    const fail = (why: string): void => { settle(new DaemonSpawnError(init.repo, why, stderr())) }
    const onAbort = (): void => { fail('was stopped before it was ready') }
    const timer = setTimeout(() => { fail(`was not ready within ${timeoutMs / second} s`) }, timeoutMs)
    if (init.signal?.aborted === true) onAbort()
    init.signal?.addEventListener('abort', onAbort, { once: true })
    child.once('error', (err) => { fail(`could not be started (${err.message})`) })
    child.stdout?.on('data', (d: Buffer) => {
      if (settled) return
      buf += d.toString()
      for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (!line.startsWith('{')) continue
        try {
          settle(undefined, JSON.parse(line))
        } catch {
          fail(`printed a ready line that is not JSON: ${line.slice(0, 200)}`)
        }
        return
      }
    })
    void exited.then((code) => { fail(`exited with ${code} before it was ready`) })
  })
}
