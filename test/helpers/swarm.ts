import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { CONFIGS_DIR, createPeer, initRepo } from '../../src/peer/index.js'
import type { OnlinePeer } from '../../src/peer/index.js'
import { lastJson, runCli, spawnLoopbackDaemon } from './cli.js'
import type { SpawnedDaemon } from './cli.js'

/**
 * configs/local.json made fit for tests: loopback only and no mDNS, so peers of different tests
 * never meet
 */
export async function testConfig (change: (config: any) => void = () => {}): Promise<any> {
  const config = JSON.parse(await fs.readFile(path.join(CONFIGS_DIR, 'local.json'), 'utf8'))
  config.addresses.listen = ['/ip4/127.0.0.1/tcp/0']
  config.discovery.mdns = false
  change(config)
  return config
}

/** Init a repo from the test config with changes, then start its daemon as a process */
export async function startPeer (repo: string, change: (config: any) => void = () => {}): Promise<SpawnedDaemon> {
  const config = await testConfig(change)
  await initRepo(repo, { configText: JSON.stringify(config, null, 2) })
  return spawnLoopbackDaemon(repo)
}

/** Write `size` random bytes to a file and publish it on a daemon; returns the CID and bytes */
export async function publishRandom (daemon: SpawnedDaemon, dir: string, size: number, name = 'data.bin'): Promise<{ cid: string, file: string, bytes: Buffer }> {
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

export async function stats (d: SpawnedDaemon): Promise<any> {
  const r = await runCli(['--repo', d.repo, '--json', 'stats'])
  if (r.code !== 0) throw new Error(r.stderr)
  return lastJson(r.stdout)
}

export { randomBytes }

/**
 * Several peers in this process (one libp2p host each, own repo under `dir`), all bootstrapped
 * from the first; lighter than processes where a test needs many peers
 */
export async function startSwarm (dir: string, n: number, change: (config: any, i: number) => void = () => {}): Promise<OnlinePeer[]> {
  const peers: OnlinePeer[] = []
  try {
    for (let i = 0; i < n; i++) {
      const repo = path.join(dir, `peer-${i}`)
      const config = await testConfig(c => { change(c, i) })
      if (i > 0 && config.bootstrap.length === 0) {
        config.bootstrap = [(await peers[0].id()).addresses[0]]
      }
      await initRepo(repo, { configText: JSON.stringify(config, null, 2) })
      const peer = await createPeer({ repo, online: true })
      peers.push(peer)
    }
  } catch (err) {
    await stopSwarm(peers)
    throw err
  }
  return peers
}

export async function stopSwarm (peers: OnlinePeer[]): Promise<void> {
  await Promise.all(peers.map(async p => p.stop().catch(() => {})))
}
