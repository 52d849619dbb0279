/**
 * Store quota: unpinned cached content is evicted least recently used first, pinned content
 * never; and a peer with a quota keeps its read-through cache within it.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { logger } from '@libp2p/logger'
import { Quota } from '../../src/peer/quota.js'
import { createStore } from '../../src/store/index.js'
import { startSwarm, stopSwarm, waitFor } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import type { OnlinePeer } from '../../src/peer/index.js'
import type { Store } from '../../src/store/index.js'

const KiB = 1024

async function putRaw (store: Store, size: number): Promise<CID> {
  const bytes = randomBytes(size)
  const cid = CID.createV1(raw.code, await sha256.digest(bytes))
  await store.blocks.put(cid, bytes)
  return cid
}

const pause = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('store: quota and LRU eviction', function () {
  this.timeout(60_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  before(async () => { tmp = await tmpDir() })
  after(async () => { await tmp?.cleanup() })

  it('evicts unpinned blocks least recently used first, and never a pinned one', async () => {
    const store = createStore(path.join(tmp.dir, 'lru'), { fsync: false })
    await store.open()
    const pinned = await putRaw(store, 100 * KiB)
    await store.pin(pinned, { name: 'keep', size: 100 * KiB })
    const old = await putRaw(store, 100 * KiB)
    await pause(20)
    const middle = await putRaw(store, 100 * KiB)
    await pause(20)
    const recent = await putRaw(store, 100 * KiB)
    await pause(20)
    // reading the oldest makes it the most recently used
    await store.blocks.touch(old)

    const r = await store.evict(250 * KiB)
    assert.equal(r.removed, 2)
    assert.equal(r.freed, 200 * KiB)
    assert.equal(r.bytes, 200 * KiB)
    assert.equal(r.pinnedBytes, 100 * KiB)
    assert.equal(await store.blocks.has(pinned), true)
    assert.equal(await store.blocks.has(old), true, 'the block used last stays')
    assert.equal(await store.blocks.has(middle), false)
    assert.equal(await store.blocks.has(recent), false)

    const none = await store.evict(0)
    assert.equal(none.removed, 1)
    assert.equal(none.bytes, 100 * KiB, 'pinned content stays above the quota')
    assert.equal(await store.blocks.has(pinned), true)
    assert.equal(await store.blocks.has(old), false)
  })

  it('does nothing under the quota', async () => {
    const store = createStore(path.join(tmp.dir, 'under'), { fsync: false })
    await store.open()
    const a = await putRaw(store, 10 * KiB)
    const r = await store.evict(1024 * KiB)
    assert.equal(r.removed, 0)
    assert.equal(await store.blocks.has(a), true)
  })

  it('an eviction asked for while writes run does nothing, so it cannot hold back the writes after it', async () => {
    const store = createStore(path.join(tmp.dir, 'busy'), { fsync: false })
    await store.open()
    const cached = await putRaw(store, 100 * KiB)
    let endWrite!: () => void
    const writing = store.withWriteGuard(async () => { await new Promise<void>((resolve) => { endWrite = resolve }) })
    await pause(10)
    const busy = await store.evict(0, { unlessBusy: true })
    assert.equal(busy.busy, true)
    assert.equal(await store.blocks.has(cached), true)
    // a second write starts at once: no eviction waits ahead of it
    let second = false
    await store.withWriteGuard(async () => { second = true })
    assert.equal(second, true)
    endWrite()
    await writing
    const done = await store.evict(0, { unlessBusy: true })
    assert.equal(done.busy, undefined)
    assert.equal(done.removed, 1)
  })

  it('counts what pins hold: the room a quota leaves is the quota less pinned content, not less evictable cache', async () => {
    const store = createStore(path.join(tmp.dir, 'room'), { fsync: false })
    await store.open()
    const pinned = await putRaw(store, 100 * KiB)
    await store.pin(pinned, { name: 'keep', size: 100 * KiB })
    await putRaw(store, 300 * KiB)
    const stat = await store.stat()
    assert.equal(stat.bytes, 400 * KiB)
    assert.equal(stat.pinnedSize, 100 * KiB)
    const quota = new Quota({ store, root: tmp.dir, log: logger('shoal:test:quota') }, { quota: 1024 * KiB })
    assert.equal((await quota.room()).free, 924 * KiB)
  })

  it('tells its room from the pins alone, without walking the blocks (asked for every presence beat)', async () => {
    const store = createStore(path.join(tmp.dir, 'room-pins'), { fsync: false })
    await store.open()
    const pinned = await putRaw(store, 100 * KiB)
    await store.pin(pinned, { name: 'keep', size: 100 * KiB })
    let listed = 0
    const blocks = store.blocks
    const list = blocks.list.bind(blocks)
    blocks.list = (options) => { listed++; return list(options) }
    const quota = new Quota({ store, root: tmp.dir, log: logger('shoal:test:quota') }, { quota: 1024 * KiB })
    assert.deepEqual(await quota.room(), { free: 924 * KiB, pins: 1 })
    assert.equal(listed, 0)
  })

  describe('a peer with a quota', () => {
    let peers: OnlinePeer[] = []
    after(async () => { await stopSwarm(peers) })

    it('keeps what it reads through from others within the quota, evicting the least recently read', async () => {
      peers = await startSwarm(path.join(tmp.dir, 'swarm'), 2, (c, i) => { if (i === 1) c.store.quota = 700 * KiB })
      const [origin, edge] = peers
      await waitFor(async () => edge.node.host.getConnections(origin.peerId).length !== 0, 10_000, 'the edge to reach the origin')
      const files: Array<{ cid: string, bytes: Buffer }> = []
      for (let i = 0; i < 3; i++) {
        const bytes = randomBytes(300 * KiB)
        const { cid } = await origin.publish((async function * () {
          yield { path: `f${i}.bin`, kind: 'file' as const, content: (async function * () { yield bytes })() }
        })(), { announce: false })
        files.push({ cid, bytes })
      }
      const read = async (cid: string): Promise<Buffer> => {
        const chunks: Uint8Array[] = []
        for await (const c of edge.cat(cid)) chunks.push(c)
        await edge.node.quota.evictions()
        return Buffer.concat(chunks)
      }
      for (const f of files) {
        assert.deepEqual(await read(f.cid), f.bytes)
        await pause(20)
      }
      const stat = await edge.store.stat()
      assert.ok(stat.bytes <= 700 * KiB, `the edge holds ${stat.bytes} bytes`)
      assert.equal((await edge.store.missing(CID.parse(files[2].cid))).length, 0, 'the last read is cached')
      assert.ok((await edge.store.missing(CID.parse(files[0].cid))).length > 0, 'the first read was evicted')
      // evicted content is fetched again on the next read
      assert.deepEqual(await read(files[0].cid), files[0].bytes)
    })
  })
})
