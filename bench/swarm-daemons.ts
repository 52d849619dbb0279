/**
 * bench/swarm `--daemons`: the replication part of bench/swarm with every peer a daemon process of
 * its own (`shoal start`), as on real hosts: each has its own event loop and libuv thread pool,
 * and the operating system shares the machine's cores between them. In the default mode every
 * peer's JavaScript runs on one thread of one process.
 *
 * The times are the publisher's own: from before `publish --replicas 3` to when it heard each
 * holder's HELD (`status`'s `heardAt`, read on its clock; the bench asks every 250 ms, which
 * does not change the figure).
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { createApiClient } from '../src/api/index.js'
import { spawnDaemon } from '../src/api/spawn.js'
import { CONFIGS_DIR, initRepo } from '../src/peer/index.js'
import { out } from './lib.js'
import type { ApiClient } from '../src/api/client.js'
import type { SpawnedDaemon } from '../src/api/spawn.js'

export interface DaemonSwarmInit {
  peers: number
  replications: number
  replicaBytes: number
  replicas: number
  dir: string
  swarm: string
  /** Presence period, ms */
  beat: number
}

export interface DaemonSwarmResult {
  /** ms from publish to the last of `replicas` holders heard, for each replication that got them */
  times: number[]
  reached: number
}

const START_BATCH = 5
const POLL_MS = 250
const HELD_TIMEOUT_MS = 60_000
const FORM_TIMEOUT_MS = 120_000

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

interface Peer { daemon: SpawnedDaemon, api: ApiClient }

async function startDaemons (init: DaemonSwarmInit): Promise<Peer[]> {
  const base = JSON.parse(await fs.readFile(path.join(CONFIGS_DIR, 'local.json'), 'utf8'))
  const peers: Peer[] = []
  const start = async (i: number, bootstrap: string[]): Promise<Peer> => {
    // the same config as the peers of the one-process mode
    const config = structuredClone(base)
    config.swarm = init.swarm
    config.addresses.listen = ['/ip4/127.0.0.1/tcp/0']
    config.api.address = '127.0.0.1:0'
    config.gateway.address = '127.0.0.1:0'
    config.discovery.mdns = false
    config.store.fsync = false
    config.gossip.presenceIntervalMs = init.beat
    if (i % 3 === 2) config.replicate = { ...config.replicate, enabled: true, tags: ['bench'], maxFileSize: 0, maxTotalBytes: 0 }
    config.bootstrap = bootstrap
    const repo = path.join(init.dir, `peer-${i}`)
    await initRepo(repo, { configText: JSON.stringify(config) })
    const daemon = await spawnDaemon({ repo })
    const token = (await fs.readFile(path.join(repo, 'api.token'), 'utf8')).trim()
    return { daemon, api: createApiClient({ address: daemon.api, token }) }
  }
  try {
    peers.push(await start(0, []))
    const bootstrap = [peers[0].daemon.addresses[0]]
    for (let i = 1; i < init.peers; i += START_BATCH) {
      const batch = Array.from({ length: Math.min(START_BATCH, init.peers - i) }, (_, k) => i + k)
      peers.push(...await Promise.all(batch.map(async j => start(j, bootstrap))))
    }
  } catch (err) {
    await stopDaemons(peers)
    throw err
  }
  return peers
}

async function stopDaemons (peers: Peer[]): Promise<void> {
  await Promise.all(peers.map(async p => {
    p.api.close()
    await p.daemon.stop().catch(() => {})
  }))
}

/** Replications over `init.peers` daemons; prints a line per replication as the default mode does */
export async function replicateOverDaemons (init: DaemonSwarmInit): Promise<DaemonSwarmResult> {
  const t0 = Date.now()
  const peers = await startDaemons(init)
  // interrupted: the daemons stop with the bench
  const interrupted = (): void => { void stopDaemons(peers).finally(() => process.exit(130)) }
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  try {
    out(`bench/swarm: ${init.peers} daemon processes on loopback, started in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    const formedBy = Date.now() + FORM_TIMEOUT_MS
    let formed = false
    while (!formed && Date.now() < formedBy) {
      const counts = await Promise.all(peers.map(async p => (await p.api.members()).filter(m => m.state === 'alive').length))
      formed = counts.every(c => c === init.peers)
      if (!formed) await sleep(1000)
    }
    out(`membership: ${formed ? 'every peer sees all' : 'NOT every peer sees all'} ${init.peers} members ${((Date.now() - t0) / 1000).toFixed(1)} s after the first start`)
    const times: number[] = []
    for (let i = 0; i < init.replications; i++) {
      const publisher = peers[(i * 7) % init.peers]
      const bytes = randomBytes(init.replicaBytes)
      const start = Date.now()
      const result = await publisher.api.publish((async function * () {
        yield { path: `b-${Math.random().toString(16).slice(2)}.bin`, kind: 'file' as const, content: (async function * () { yield bytes })() }
      })(), { tags: ['bench'], replicas: init.replicas })
      const assigned = Date.now() - start
      let heard: number[] = []
      while (Date.now() - start < HELD_TIMEOUT_MS) {
        const status = await publisher.api.status(result.cid, { timeoutMs: 0 })
        heard = status.holders.filter(h => h.heardAt != null).map(h => (h.heardAt ?? 0) - start).sort((x, y) => x - y)
        if (heard.length >= init.replicas) break
        await sleep(POLL_MS)
      }
      out(`replica   ${i + 1}: assigned after ${assigned} ms, HELD heard after ${heard.join(', ')} ms`)
      if (heard.length >= init.replicas) times.push(heard[init.replicas - 1])
    }
    return { times, reached: times.length }
  } finally {
    process.off('SIGINT', interrupted)
    process.off('SIGTERM', interrupted)
    await stopDaemons(peers)
  }
}
