import { spawn } from 'node:child_process'
import { spawnDaemon, SHOAL_BIN } from '../../src/api/spawn.js'
import type { SpawnedDaemon } from '../../src/api/spawn.js'

export { SHOAL_BIN }
export type { SpawnedDaemon }

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

/** `start` arguments for a test daemon: loopback only, every port picked free, the repo made if missing */
export const LOOPBACK_START_ARGS = ['--init', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--gateway', '127.0.0.1:0']

/** Start `shoal start` as a process on loopback with free ports, and wait until it is ready */
export async function spawnLoopbackDaemon (repo: string, extra: string[] = []): Promise<SpawnedDaemon> {
  return spawnDaemon({ repo, args: [...LOOPBACK_START_ARGS, ...extra] })
}
