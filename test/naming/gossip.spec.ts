/**
 * The names topic over real gossipsub hosts: a publisher's records reach a follower; a rogue
 * peer's replayed lower sequence, a record of the name signed by another key, and oversized data
 * are each rejected by the topic's validator and change nothing the follower holds.
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { logger } from '@libp2p/logger'
import { NameGossip, namesTopic } from '../../src/naming/gossip.js'
import { NameRecord } from '../../src/naming/messages.js'
import { RecordStore } from '../../src/naming/record-store.js'
import { nameOfKey, signRecord } from '../../src/naming/records.js'
import { startHost } from '../helpers/host.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Host } from '../../src/host/index.js'
import type { PrivateKey } from '@libp2p/interface'

const CID_A = 'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am'
const CID_B = 'bafkreiey5jxe6ilpf62lnh77tm5ejbbmhbugzjuf6p2v3remlu73ced34q'
const opts = { lifetimeMs: 3_600_000, ttlMs: 60_000 }

async function until (what: string, fn: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await fn()) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  assert.fail(`${what} within ${ms} ms`)
}

describe('names: the names topic over gossipsub', function () {
  this.timeout(60_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  const hosts: Host[] = []
  let key: PrivateKey
  let rogueKey: PrivateKey

  before(async () => {
    tmp = await tmpDir()
    for (const n of ['publisher', 'follower', 'rogue']) hosts.push(await startHost(path.join(tmp.dir, n)))
    key = await generateKeyPair('Ed25519')
    rogueKey = await generateKeyPair('Ed25519')
  })

  after(async () => {
    for (const h of hosts) await h.stop()
    await tmp?.cleanup()
  })

  it('delivers newer records and rejects a replay, a forgery and oversized data', async () => {
    const [publisher, follower, rogue] = hosts
    const topic = namesTopic('test')
    const store = new RecordStore(path.join(tmp.dir, 'records'))
    const taken: number[] = []
    const gossip = (host: Host, records: RecordStore): NameGossip => new NameGossip({
      pubsub: host.services.pubsub,
      records,
      log: logger('test'),
      onRecord: (_name, record) => { if (host === follower) taken.push(Number(record.sequence)) }
    }, 'test')
    const pub = gossip(publisher, new RecordStore(path.join(tmp.dir, 'publisher-records')))
    const fol = gossip(follower, store)
    pub.start()
    fol.start()
    // the rogue speaks on the topic without any validator of its own
    rogue.services.pubsub.subscribe(topic)
    await rogue.dial(follower.getMultiaddrs()[0])
    await publisher.dial(follower.getMultiaddrs()[0])
    await until('the follower is subscribed as the others see it', () =>
      publisher.services.pubsub.getSubscribers(topic).some(p => p.equals(follower.peerId)) &&
      rogue.services.pubsub.getSubscribers(topic).some(p => p.equals(follower.peerId)))

    const name = nameOfKey(key)
    const v1 = await signRecord(key, CID_A, 1n, opts)
    const v2 = await signRecord(key, CID_B, 2n, opts)
    // gossip is best effort (the DHT is the fallback): a push that a busy machine lost while the
    // mesh formed is pushed again, at most a few times
    const pushUntilHeld = async (bytes: Uint8Array, sequence: bigint): Promise<void> => {
      for (let i = 0; i < 5; i++) {
        await pub.push(name, bytes)
        const deadline = Date.now() + 3000
        while (Date.now() < deadline) {
          if ((await store.get(name.name))?.record.sequence === sequence) return
          await new Promise(resolve => setTimeout(resolve, 50))
        }
      }
      assert.fail(`the follower did not take sequence ${sequence}`)
    }
    await pushUntilHeld(v1, 1n)
    await pushUntilHeld(v2, 2n)

    const send = async (data: Uint8Array): Promise<void> => { await rogue.services.pubsub.publish(topic, data) }
    const key1 = new Uint8Array(key.publicKey.toMultihash().bytes)
    // a replay of the older record, a record of the name signed by the rogue's key, junk past the limit
    await send(NameRecord.encode({ key: key1, record: new Uint8Array(v1) }))
    await send(NameRecord.encode({ key: key1, record: new Uint8Array(await signRecord(rogueKey, CID_A, 99n, opts)) }))
    await send(new Uint8Array(11 * 1024))
    await until('the follower rejected all three', () => fol.stats().rejected >= 3)
    const stats = fol.stats()
    // a record pushed again is ignored, not rejected
    assert.deepEqual({ received: stats.received, rejected: stats.rejected }, { received: 2, rejected: 3 })
    assert.equal((await store.get(name.name))?.record.value, `/ipfs/${CID_B}`)
    assert.deepEqual(taken, [1, 2])
    pub.stop()
    fol.stop()
  })

  it('hands a record on before it is on disk: the follower does not wait for the write', async () => {
    const [publisher, follower] = hosts
    const topic = namesTopic('test-held')
    const store = new RecordStore(path.join(tmp.dir, 'records-held'))
    // the follower's disk holds every write until the test lets it go
    let release: () => void = () => {}
    const disk = new Promise<void>(resolve => { release = resolve })
    let written = false
    const heard: Array<{ sequence: number, written: boolean }> = []
    const pub = new NameGossip({
      pubsub: publisher.services.pubsub,
      records: new RecordStore(path.join(tmp.dir, 'publisher-held')),
      log: logger('test'),
      onRecord: () => {}
    }, 'test-held')
    const fol = new NameGossip({
      pubsub: follower.services.pubsub,
      records: {
        get: async (n) => store.get(n),
        take: async (n, bytes, record) => {
          const t = await store.take(n, bytes, record)
          return { kept: t.kept, written: disk.then(async () => t.written).then(() => { written = true }) }
        }
      },
      log: logger('test'),
      onRecord: (_name, record) => { heard.push({ sequence: Number(record.sequence), written }) }
    }, 'test-held')
    pub.start()
    fol.start()
    try {
      await until('the follower is subscribed as the publisher sees it', () =>
        publisher.services.pubsub.getSubscribers(topic).some(p => p.equals(follower.peerId)))
      const name = nameOfKey(key)
      const v3 = await signRecord(key, CID_A, 3n, opts)
      for (let i = 0; i < 5 && heard.length === 0; i++) {
        await pub.push(name, v3)
        await until('the record is handed on', () => heard.length > 0, 3000).catch(() => {})
      }
      assert.deepEqual(heard, [{ sequence: 3, written: false }])
      assert.equal((await store.get(name.name))?.record.sequence, 3n, 'held while the write waits')
      release()
      await until('the record is on disk', async () => (await new RecordStore(path.join(tmp.dir, 'records-held')).get(name.name))?.record.sequence === 3n)
    } finally {
      release()
      pub.stop()
      fol.stop()
    }
  })
})
