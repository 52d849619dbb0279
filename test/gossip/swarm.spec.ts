/**
 * Ten peers in one process: DHT routing between peers that are not connected, announcements
 * reaching every subscriber, validators rejecting bad announcements (and scoring their sender
 * down), and `--replicas 3` leading to 3 holders.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { Announce } from '../../src/gossip/messages.js'
import { topicsOf } from '../../src/gossip/index.js'
import { startSwarm, stopSwarm, waitFor } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Announcement } from '../../src/gossip/index.js'
import type { OnlinePeer } from '../../src/peer/index.js'

const N = 10
const KiB = 1024

async function publishBytes (peer: OnlinePeer, bytes: Uint8Array, options: { tags?: string[], replicas?: number, announce?: boolean } = {}): Promise<{ cid: string, assigned?: string[], announced?: number }> {
  return peer.publish((async function * () {
    yield { path: `f-${Math.random().toString(16).slice(2)}.bin`, kind: 'file' as const, content: (async function * () { yield bytes })() }
  })(), options)
}

async function catAll (peer: OnlinePeer, cid: string): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const c of peer.cat(cid)) chunks.push(c)
  return Buffer.concat(chunks)
}

/** Collect what a peer's `watch` yields until stopped */
function collect (peer: OnlinePeer): { items: Announcement[], stop(): void } {
  const controller = new AbortController()
  const items: Announcement[] = []
  void (async () => {
    for await (const a of peer.watch({ signal: controller.signal })) items.push(a)
  })().catch(() => {})
  return { items, stop: () => { controller.abort() } }
}

describe('gossip and routing: ten peers in one process', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let peers: OnlinePeer[] = []

  before(async () => {
    tmp = await tmpDir()
    // peers 6..9 replicate anything announced with the tag "cdn"
    peers = await startSwarm(path.join(tmp.dir, 'swarm'), N, (c, i) => {
      c.gossip.presenceIntervalMs = 500
      if (i >= 6) c.replicate = { ...c.replicate, enabled: true, tags: ['cdn'], maxFileSize: 0, maxTotalBytes: 0 }
    })
    // everyone has everyone in its membership table once the mesh has formed
    await waitFor(async () => peers.every(p => p.node.gossip.stats().members === N), 30_000, 'a full membership table on every peer')
  })
  after(async () => {
    await stopSwarm(peers)
    await tmp?.cleanup()
  })

  it('a peer with no connection to the publisher finds it through the DHT and fetches it', async () => {
    const publisher = peers[3]
    const fetcher = peers[8]
    const bytes = randomBytes(600 * KiB + 5)
    const { cid } = await publishBytes(publisher, bytes, { announce: false })
    const pubId = publisher.peerId.toString()
    await waitFor(async () => (await peers[1].find(cid, { timeoutMs: 5000 })).some(p => p.peerId === pubId), 30_000, 'the provider record')
    // cut every connection between the two, so only the DHT can lead the fetcher to the publisher
    await fetcher.node.host.hangUp(publisher.peerId)
    assert.equal(fetcher.node.host.getConnections(publisher.peerId).length, 0)
    const joined: string[] = []
    const result = await fetcher.fetch(cid, { onProgress: (e) => { if (e.type === 'fetch:peer' && e.joined) joined.push(e.peerId) } })
    assert.equal(result.fetchedBlocks, result.blocks, 'every block came from the network')
    assert.deepEqual(joined, [pubId], 'the publisher, found in the DHT, served it')
    assert.deepEqual(await catAll(fetcher, cid), bytes)
    // having fetched it, the fetcher provides it too
    const fetcherId = fetcher.peerId.toString()
    await waitFor(async () => (await peers[0].find(cid, { timeoutMs: 5000 })).some(p => p.peerId === fetcherId), 30_000, 'the fetcher\'s provider record')
  })

  it('provide reports the DHT peers that took the record, and find lists the provider', async () => {
    const { cid } = await publishBytes(peers[5], randomBytes(10 * KiB), { announce: false })
    // a busy machine can time a send out; a provide that reaches nobody is retried, as a user would
    let accepted = 0
    await waitFor(async () => { accepted = (await peers[5].provide(cid)).accepted; return accepted >= 1 }, 30_000, 'a provide some DHT peer accepts')
    assert.ok(accepted >= 1)
    // the record is sent, not acknowledged: the receivers store it a moment later
    await waitFor(async () => (await peers[2].find(cid, { timeoutMs: 5000 })).some(p => p.peerId === peers[5].peerId.toString()), 20_000, 'the provider in find')
    await assert.rejects(peers[2].provide(cid), { name: 'BlockNotFoundError' }, 'a peer that lacks it cannot provide it')
  })

  it('an announcement reaches every subscriber; invalid and oversized ones reach none and cost the sender score', async () => {
    const watchers = peers.map(p => collect(p))
    try {
      await new Promise(resolve => setTimeout(resolve, 200))
      const liar = peers[4]
      const topic = topicsOf('local').announce
      const valid: Announce = { cid: 'bafkqaaa', name: 'x', size: 0, time: Date.now(), tags: [], replicas: 0 }
      // published straight through gossipsub, past shoal's own checks
      const bad = [
        Announce.encode({ ...valid, cid: 'not-a-cid' }),
        Announce.encode({ ...valid, time: Date.now() - 3_600_000 }),
        Announce.encode({ ...valid, name: 'n'.repeat(5000) }),
        new Uint8Array(5 * KiB).fill(7)
      ]
      for (const data of bad) await liar.node.host.services.pubsub.publish(topic, data)
      const { cid } = await publishBytes(peers[0], randomBytes(KiB), { tags: ['news'] })
      await waitFor(async () => watchers.slice(1).every(w => w.items.some(a => a.cid === cid)), 30_000, 'the announcement on every peer')
      for (const [i, w] of watchers.entries()) {
        assert.equal(w.items.filter(a => a.publisher === liar.peerId.toString()).length, 0, `peer ${i} was handed a bad announcement`)
      }
      const a = watchers[9].items.find(x => x.cid === cid)
      assert.equal(a?.publisher, peers[0].peerId.toString())
      assert.deepEqual(a?.tags, ['news'])
      assert.equal(watchers[0].items.length, 0, 'a publisher does not hear its own announcement')
      // the liar's direct neighbours rejected its messages and scored it below zero
      // (the peers the liar's router sent to: those it knew to be subscribed to the topic)
      const subscribers = new Set((liar.node.host.services.pubsub.getSubscribers(topic) ?? []).map(id => id.toString()))
      const neighbours = peers.filter(p => p !== liar && subscribers.has(p.peerId.toString()))
      assert.ok(neighbours.length > 0)
      await waitFor(async () => neighbours.every(p => (p.node.gossip.stats().rejected ?? 0) > 0), 10_000, 'rejections')
      // scores are recomputed on the router's own schedule, so wait for it
      const scoreOf = (p: OnlinePeer): number => (p.node.host.services.pubsub as unknown as { getScore(id: string): number }).getScore(liar.peerId.toString())
      await waitFor(async () => neighbours.every(p => scoreOf(p) < 0), 10_000, `the sender of invalid messages to score below zero (scores ${neighbours.map(scoreOf).join(', ')})`)
    } finally {
      watchers.forEach(w => { w.stop() })
    }
  })

  it('publish --replicas 3 assigns 3 volunteers, which fetch, pin and say they hold it', async () => {
    const bytes = randomBytes(300 * KiB)
    const before = Date.now()
    const result = await publishBytes(peers[1], bytes, { tags: ['cdn'], replicas: 3 })
    assert.equal(result.assigned?.length, 3)
    const volunteers = peers.slice(6).map(p => p.peerId.toString())
    for (const id of result.assigned ?? []) assert.ok(volunteers.includes(id), 'only peers whose policy takes it volunteer')
    await waitFor(async () => (await peers[1].status(result.cid, { timeoutMs: 2000 })).holders.filter(h => h.sources.includes('gossip')).length === 3, 30_000, '3 holders')
    const heard = (await peers[1].status(result.cid, { timeoutMs: 0 })).holders.filter(h => h.sources.includes('gossip'))
    assert.ok(heard.every(h => h.heardAt != null && h.heardAt >= before && h.heardAt <= Date.now()), 'when each HELD was heard')
    const { CID } = await import('multiformats/cid')
    // HELD goes out once the content is whole; the pin's write may still be under way
    const assignedPeers = peers.filter(p => result.assigned?.includes(p.peerId.toString()) === true)
    await waitFor(async () => (await Promise.all(assignedPeers.map(async p => p.store.pins.has(CID.parse(result.cid))))).every(Boolean), 10_000, 'the holders\' pins')
    for (const p of peers) {
      const pin = await p.store.pins.get(CID.parse(result.cid))
      const assigned = result.assigned?.includes(p.peerId.toString()) === true
      if (assigned) {
        assert.equal(pin?.origin, 'replica')
        assert.deepEqual(await catAll(p, result.cid), bytes)
      } else if (p !== peers[1]) {
        assert.equal(pin, undefined, 'peers not assigned do not hold it')
      }
    }
  })

  it('a replica larger than its announcement said is dropped, not pinned; an honest one beside it is held', async () => {
    const { CID } = await import('multiformats/cid')
    const publisher = peers[5]
    const understated = await publishBytes(publisher, randomBytes(3 * 1024 * KiB), { announce: false })
    const honest = await publishBytes(publisher, randomBytes(3 * 1024 * KiB), { announce: false })
    // announced straight through gossipsub: one says 1000 bytes for 3 MiB
    const topic = topicsOf('local').announce
    const announce = (cid: string, size: number): Uint8Array => Announce.encode({ cid, name: cid, size, time: Date.now(), tags: ['cdn'], replicas: 0 })
    await publisher.node.host.services.pubsub.publish(topic, announce(understated.cid, 1000))
    await publisher.node.host.services.pubsub.publish(topic, announce(honest.cid, 3 * 1024 * KiB))
    const replicators = peers.slice(6)
    await waitFor(async () => (await Promise.all(replicators.map(async p => await p.store.pins.get(CID.parse(honest.cid))))).every(pin => pin?.origin === 'replica'), 60_000, 'the honest replicas')
    // the fetches of the other stopped at its limit long before 3 MiB
    await new Promise(resolve => setTimeout(resolve, 1000))
    for (const p of replicators) {
      assert.equal(await p.store.pins.get(CID.parse(understated.cid)), undefined, `${p.peerId.toString()} pinned a replica larger than announced`)
    }
  })
})
