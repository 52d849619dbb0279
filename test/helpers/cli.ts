import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'

/** The built CLI entry point */
export const SHOAL_BIN = fileURLToPath(new URL('../../bin/shoal.js', import.meta.url))

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Run `shoal ARGS` as a separate process and collect its output */
export async function runCli (args: string[], options: { input?: Uint8Array | string, env?: Record<string, string>, timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SHOAL_BIN, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe']
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => err.push(d))
    const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') })
    })
    child.stdin.end(options.input)
  })
}

/** The JSON object on the last line of stdout */
export function lastJson (stdout: string): any {
  const lines = stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1] ?? '')
}

export interface DaemonProcess {
  child: ChildProcess
  peerId: string
  addresses: string[]
  api: string
  repo: string
  /** HOST:PORT of its HTTP gateway, when it serves one */
  gateway?: string
  /** What the daemon has written to stderr so far */
  stderr(): string
  /** Send a signal (SIGTERM by default) and wait for exit; resolves with the exit code, or the signal that ended it */
  stop(signal?: NodeJS.Signals): Promise<number | string | null>
}

/**
 * Start `shoal start` as a separate process on loopback with free ports, and wait until it
 * prints its JSON ready line
 */
export async function startDaemon (repo: string, extra: string[] = []): Promise<DaemonProcess> {
  const child = spawn(process.execPath, [SHOAL_BIN, '--repo', repo, '--json', 'start', '--init',
    '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--gateway', '127.0.0.1:0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<number | string | null>(resolve => child.on('exit', (code, signal) => { resolve(code ?? signal) }))
  const ready = await new Promise<any>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => { reject(new Error(`daemon did not start within 30 s: ${stderr}`)) }, 30_000)
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString()
      const line = buf.split('\n').find(l => l.startsWith('{'))
      if (line != null) {
        clearTimeout(timer)
        resolve(JSON.parse(line))
      }
    })
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`daemon exited with ${code} before it was ready: ${stderr}`)) })
  })
  return {
    child,
    peerId: ready.peerId,
    addresses: ready.addresses,
    api: ready.api,
    gateway: ready.gateway,
    repo,
    stderr: () => stderr,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode != null || child.signalCode != null) return child.exitCode ?? child.signalCode
      child.kill(signal)
      return exited
    }
  }
}
