import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { CONFIGS_DIR, initRepo } from '../../src/peer/index.js'
import { lastJson, runCli, startDaemon } from './cli.js'
import type { DaemonProcess } from './cli.js'

/** Init a repo from configs/local.json with changes, then start its daemon as a process */
export async function startPeer (repo: string, change: (config: any) => void = () => {}): Promise<DaemonProcess> {
  const config = JSON.parse(await fs.readFile(path.join(CONFIGS_DIR, 'local.json'), 'utf8'))
  change(config)
  await initRepo(repo, { configText: JSON.stringify(config, null, 2) })
  return startDaemon(repo)
}

/** Write `size` random bytes to a file and publish it on a daemon; returns the CID and bytes */
export async function publishRandom (daemon: DaemonProcess, dir: string, size: number, name = 'data.bin'): Promise<{ cid: string, file: string, bytes: Buffer }> {
  const bytes = randomBytes(size)
  const file = path.join(dir, `${name}-${Date.now()}-${Math.random().toString(16).slice(2)}`)
  await fs.writeFile(file, bytes)
  const r = await runCli(['--repo', daemon.repo, '--json', 'publish', file])
  if (r.code !== 0) throw new Error(`publish failed: ${r.stderr}`)
  return { cid: lastJson(r.stdout).cid, file, bytes }
}

/** Every block file in a repo's store */
export async function storedBlocks (repo: string): Promise<number> {
  const dir = path.join(repo, 'store', 'blocks')
  let n = 0
  for (const shard of await fs.readdir(dir).catch(() => [] as string[])) {
    if (shard === '.tmp') continue
    n += (await fs.readdir(path.join(dir, shard)).catch(() => [] as string[])).length
  }
  return n
}

export async function waitFor (cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!await cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

export async function stats (d: DaemonProcess): Promise<any> {
  const r = await runCli(['--repo', d.repo, '--json', 'stats'])
  if (r.code !== 0) throw new Error(r.stderr)
  return lastJson(r.stdout)
}

export { randomBytes }
