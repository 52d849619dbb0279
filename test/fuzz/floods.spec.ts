/**
 * Floods, each bounded in count and time: 2,000 inbound connection attempts from one host,
 * 10,000 exchange streams on one connection, a frame length claiming 4 GiB on the control API, and
 * a gossipsub RPC subscribing to 10,000 topics. The target keeps to its limits, its memory stays
 * bounded, and it goes on serving honest peers. (A 4 GiB length prefix on the exchange is in
 * test/exchange/hostile.spec.ts.)
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { RPC } from '@libp2p/gossipsub/message'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import * as varint from 'uint8-varint'
import { createApiClient } from '../../src/api/index.js'
import { EXCHANGE_PROTOCOL, MAX_INBOUND_STREAMS_PER_CONNECTION } from '../../src/constants.js'
import { Request, Response } from '../../src/exchange/message.js'
import { topicsOf } from '../../src/gossip/index.js'
import { createPeer, initRepo } from '../../src/peer/index.js'
import { runCli } from '../helpers/cli.js'
import { rssOf } from '../helpers/proc.js'
import { publishRandom, startPeer, testConfig, waitFor } from '../helpers/swarm.js'
import { startHost } from '../helpers/host.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Host } from '../../src/host/index.js'
import type { OnlinePeer } from '../../src/peer/index.js'
import type { SpawnedDaemon } from '../helpers/cli.js'
import type { Connection, Stream } from '@libp2p/interface'

const MiB = 1024 * 1024

const attackerHost = async (dir: string): Promise<Host> => await startHost(dir, {
  limits: { maxConnections: 5000, maxIncomingPendingConnections: 10, inboundConnectionThreshold: 100, dialTimeoutMs: 5000 },
  dht: { protocol: '/shoal-flood/kad/1.0.0', clientMode: true, peerAddresses: 'all' },
  agentVersion: 'shoal-flood'
})


/** Run `fn(i)` for i < count with at most `concurrency` at once, stopping at the deadline */
async function bounded (count: number, concurrency: number, deadline: number, fn: (i: number) => Promise<void>): Promise<number> {
  let next = 0
  let done = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count && Date.now() < deadline) {
      const i = next++
      await fn(i).catch(() => {})
      done++
    }
  }))
  return done
}

describe('floods', function () {
  this.timeout(300_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  const daemons: SpawnedDaemon[] = []
  const hosts: Host[] = []
  const peers: OnlinePeer[] = []

  before(async () => { tmp = await tmpDir() })
  after(async () => {
    await Promise.all(hosts.map(async h => { await h.stop() }))
    await Promise.all(peers.map(async p => p.stop().catch(() => {})))
    await Promise.all(daemons.map(async d => d.stop()))
    await tmp?.cleanup()
  })

  const alive = (d: SpawnedDaemon): void => { assert.equal(d.child.exitCode, null, `the daemon exited: ${d.stderr()}`) }

  it('2,000 inbound connection attempts from one host: connections stay within the limit, RSS stays bounded, others are still served', async () => {
    const MAX_CONNECTIONS = 64
    const target = await startPeer(path.join(tmp.dir, 'conn-target'), c => { c.limits.maxConnections = MAX_CONNECTIONS })
    const honest = await startPeer(path.join(tmp.dir, 'conn-honest'))
    daemons.push(target, honest)
    const api = createApiClient({ address: target.api, token: (await fs.readFile(path.join(target.repo, 'api.token'), 'utf8')).trim() })
    try {
      const { cid, bytes } = await publishRandom(target, tmp.dir, 2 * MiB)
      const rssBefore = await rssOf(target.child.pid!)
      const attacker = await attackerHost(path.join(tmp.dir, 'conn-attacker'))
      hosts.push(attacker)
      const ma = multiaddr(target.addresses[0])
      let maxSeen = 0
      let sampling = true
      const sampler = (async () => {
        while (sampling) {
          const s = await api.stats().catch(() => undefined)
          if (s?.network != null) maxSeen = Math.max(maxSeen, s.network.connections)
          await new Promise(resolve => setTimeout(resolve, 200))
        }
      })()
      let opened = 0
      const held: Connection[] = []
      // every attempt is a fresh connection (force), held open so they pile up
      const attempts = await bounded(2000, 32, Date.now() + 150_000, async () => {
        const conn = await attacker.dial(ma, { force: true, signal: AbortSignal.timeout(10_000) })
        opened++
        held.push(conn)
      })
      await new Promise(resolve => setTimeout(resolve, 1000))
      // the attacker's own view: connections the target has not closed
      const stillOpen = attacker.getConnections().length
      sampling = false
      await sampler
      alive(target)
      const rss = await rssOf(target.child.pid!)
      assert.equal(attempts, 2000, 'every attempt was made within the time bound')
      assert.ok(maxSeen <= MAX_CONNECTIONS + 1, `the target held ${maxSeen} connections (limit ${MAX_CONNECTIONS})`)
      assert.ok(stillOpen <= MAX_CONNECTIONS, `${stillOpen} of ${opened} connections stayed open`)
      assert.ok(rss - rssBefore < 200 * MiB, `RSS grew from ${(rssBefore / MiB).toFixed(0)} to ${(rss / MiB).toFixed(0)} MiB`)
      await Promise.all(held.map(async c => c.close().catch(() => {})))

      const f = await runCli(['--repo', honest.repo, '--json', 'fetch', cid, '--from', target.addresses[0]])
      assert.equal(f.code, 0, f.stderr)
      const out = path.join(tmp.dir, 'conn-out.bin')
      assert.equal((await runCli(['--repo', honest.repo, 'get', cid, '-o', out])).code, 0)
      assert.ok((await fs.readFile(out)).equals(bytes))
    } finally {
      api.close()
    }
  })

  it('10,000 exchange streams on one connection: at most 8 are served at once, the excess is reset', async () => {
    const target = await startPeer(path.join(tmp.dir, 'streams-target'))
    daemons.push(target)
    const { cid } = await publishRandom(target, tmp.dir, 1 * MiB)
    const root = CID.parse(cid).bytes
    const rssBefore = await rssOf(target.child.pid!)
    const attacker = await attackerHost(path.join(tmp.dir, 'streams-attacker'))
    hosts.push(attacker)
    const conn = await attacker.dial(multiaddr(target.addresses[0]))
    const served: Stream[] = []
    let refused = 0
    let notOpened = 0
    const ask = async (stream: Stream): Promise<boolean> => {
      const lp = lpStream(stream)
      const timer = setTimeout(() => { stream.abort(new Error('no answer within 10 s')) }, 10_000)
      try {
        await lp.write(Request.encode({ id: 1, have: { cids: [root] } }))
        return Response.decode(await lp.read()).have?.have[0] === true
      } catch {
        return false
      } finally {
        clearTimeout(timer)
      }
    }
    const started = Date.now()
    const attempts = await bounded(10_000, 64, Date.now() + 180_000, async () => {
      let stream: Stream
      try {
        stream = await conn.newStream(EXCHANGE_PROTOCOL, { maxOutboundStreams: 20_000, signal: AbortSignal.timeout(10_000) } as any)
      } catch {
        refused++
        notOpened++
        return
      }
      // answered streams are held open, so every later one is over the limit
      if (await ask(stream)) served.push(stream)
      else refused++
    })
    const seconds = (Date.now() - started) / 1000
    if (process.env.FUZZ_VERBOSE != null) console.log(`${attempts} streams in ${seconds.toFixed(1)} s: ${served.length} served, ${notOpened} refused at negotiation, ${refused - notOpened} reset after`)
    alive(target)
    assert.equal(attempts, 10_000, `every stream was attempted within the time bound (${attempts} in ${seconds.toFixed(0)} s)`)
    assert.ok(served.length <= MAX_INBOUND_STREAMS_PER_CONNECTION, `${served.length} streams were served at once`)
    assert.ok(served.length >= 1, 'the first streams were served')
    assert.equal(refused, 10_000 - served.length)
    const rss = await rssOf(target.child.pid!)
    assert.ok(rss - rssBefore < 200 * MiB, `RSS grew from ${(rssBefore / MiB).toFixed(0)} to ${(rss / MiB).toFixed(0)} MiB`)
    // once they close, the connection is served again
    await Promise.all(served.map(async s => s.close().catch(() => {})))
    await waitFor(async () => ask(await conn.newStream(EXCHANGE_PROTOCOL)), 20_000, 'a new stream to be served')
  })

  it('a control API frame length claiming 4 GiB is refused at once, without allocating it', async () => {
    const target = await startPeer(path.join(tmp.dir, 'frame-target'))
    daemons.push(target)
    const token = (await fs.readFile(path.join(target.repo, 'api.token'), 'utf8')).trim()
    const rssBefore = await rssOf(target.child.pid!)
    const res = await fetch(`http://${target.api}/api/v0/publish`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.shoal.frames' },
      body: Buffer.concat([varint.encode(4 * 1024 ** 3), Buffer.alloc(1024)]),
      signal: AbortSignal.timeout(10_000)
    })
    assert.equal(res.status, 400)
    assert.equal(((await res.json()) as any).error.name, 'InvalidArgumentError')
    alive(target)
    assert.ok(await rssOf(target.child.pid!) - rssBefore < 64 * MiB)
    assert.equal((await runCli(['--repo', target.repo, '--json', 'id'])).code, 0)
  })

  it('a gossipsub RPC subscribing to 10,000 topics is dropped by the decode limits; a small one is taken', async () => {
    const repo = path.join(tmp.dir, 'gossip-target')
    await initRepo(repo, { configText: JSON.stringify(await testConfig(), null, 2) })
    const target = await createPeer({ repo, online: true })
    peers.push(target)
    const pubsub = target.node.host.services.pubsub
    const attacker = await attackerHost(path.join(tmp.dir, 'gossip-attacker'))
    hosts.push(attacker)
    const ma = multiaddr((await target.id()).addresses[0])
    const send = async (subscriptions: Array<{ subscribe: boolean, topic: string }>): Promise<void> => {
      const stream = await attacker.dialProtocol(ma, '/meshsub/1.1.0')
      await lpStream(stream, { maxDataLength: 4 * MiB }).write(RPC.encode({ subscriptions, messages: [] }))
      // the stream stays open: gossipsub reads it until the peer goes away
    }
    const presence = topicsOf(target.config.swarm).presence
    const attackerId = attacker.peerId.toString()
    const subscribed = (topic: string): boolean => pubsub.getSubscribers(topic).some(p => p.toString() === attackerId)

    // 10,000 short topic names in one RPC (about 80 KiB), the real presence topic among them
    const many = [{ subscribe: true, topic: presence }, ...Array.from({ length: 9_999 }, (_, i) => ({ subscribe: true, topic: `t${i}` }))]
    await send(many)
    // and 100 in an RPC small enough to pass the data length limit, so the subscription cap decides
    await send([{ subscribe: true, topic: presence }, ...Array.from({ length: 99 }, (_, i) => ({ subscribe: true, topic: `u${i}` }))])
    await new Promise(resolve => setTimeout(resolve, 2000))
    assert.equal(subscribed(presence), false, 'neither RPC was taken')
    assert.equal(subscribed('t1'), false)
    assert.equal(subscribed('u1'), false)

    // a well-formed RPC on the same kind of stream is taken: the limits, not the channel, decided
    await send([{ subscribe: true, topic: 'ok-topic' }])
    await waitFor(async () => subscribed('ok-topic'), 10_000, 'the small RPC to be taken')
    assert.ok(target.node.host.status === 'started')
    assert.ok((await target.stats()).online)
  })
})
