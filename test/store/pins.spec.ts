/**
 * Pin records on disk: written whole, and a record that cannot be read is never taken for an
 * absent pin (gc refuses, eviction keeps what it may pin, listings and verify name it).
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { importer } from 'ipfs-unixfs-importer'
import { createStore } from '../../src/store/index.js'
import { bytesOf } from '../helpers/bytes.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Store } from '../../src/store/index.js'
import { rejectsNamed } from '../helpers/assert.js'

const MiB = 1024 * 1024

/** A tree of several blocks (a 2.5 MiB file is three leaves and a root, beside a small file) */
async function importTree (store: Store, seed: string): Promise<CID> {
  let root: CID | undefined
  for await (const r of importer([
    { path: `${seed}/big.bin`, content: bytesOf(seed, 2.5 * MiB) },
    { path: `${seed}/small.txt`, content: bytesOf(`${seed}-small`, 100) }
  ], store.blocks, { profile: 'unixfs-v1-2025' })) root = r.cid
  assert.ok(root != null)
  return root
}

async function putRaw (store: Store, seed: string): Promise<CID> {
  const bytes = bytesOf(seed, 1000)
  const cid = CID.createV1(raw.code, await sha256.digest(bytes))
  await store.blocks.put(cid, bytes)
  return cid
}

async function blockCount (store: Store): Promise<number> {
  let n = 0
  for await (const _ of store.blocks.list()) n++
  return n
}

describe('store: pin records', () => {
  let tmp: { dir: string, cleanup(): Promise<void> }
  let store: Store
  let pinsDir: string
  const recordOf = (cid: CID): string => path.join(pinsDir, `${cid.toV1().toString()}.json`)

  beforeEach(async () => {
    tmp = await tmpDir()
    store = createStore(tmp.dir, { fsync: true })
    await store.open()
    pinsDir = path.join(tmp.dir, 'pins')
  })

  afterEach(async () => {
    await tmp.cleanup()
  })

  describe('written whole', () => {
    it('a pin leaves exactly its record, which reads back', async () => {
      const root = await importTree(store, 'tree')
      await store.pin(root, { name: 'tree', size: 42, origin: 'fetch' })
      assert.deepEqual(await fs.readdir(pinsDir), [`${root.toV1().toString()}.json`])
      const pin = await store.pins.get(root)
      assert.equal(pin?.cid.toString(), root.toString())
      assert.equal(pin?.size, 42)
      assert.equal(pin?.origin, 'fetch')
    })

    it('open() removes a temporary record a crash left mid-write, and never lists it', async () => {
      const root = await importTree(store, 'tree')
      await store.pin(root, { name: 'tree', size: 1 })
      const torn = `${recordOf(root)}.1f2e3d4c`
      await fs.writeFile(torn, '{"cid":"ba')
      assert.equal((await store.pins.list()).length, 1, 'a temporary record is not a pin')
      const reopened = createStore(tmp.dir, { fsync: true })
      await reopened.open()
      await assert.rejects(fs.access(torn))
      assert.equal((await reopened.pins.list())[0]?.name, 'tree')
    })
  })

  describe('a record that cannot be read', () => {
    let pinned: CID
    let broken: CID
    let loose: CID

    beforeEach(async () => {
      pinned = await importTree(store, 'kept')
      broken = await importTree(store, 'broken')
      loose = await putRaw(store, 'loose')
      await store.pin(pinned, { name: 'kept', size: 1 })
      await store.pin(broken, { name: 'broken', size: 1 })
      await fs.writeFile(recordOf(broken), '{garbage\n')
    })

    it('list and get throw UnreadablePinError naming the file; scan reports it beside the readable pins', async () => {
      const err = await rejectsNamed(store.pins.list(), 'UnreadablePinError')
      assert.equal(err.file, recordOf(broken))
      assert.ok(err.message.includes(recordOf(broken)), err.message)
      assert.doesNotMatch(err.message, /\n/)
      await rejectsNamed(store.pins.get(broken), 'UnreadablePinError')
      assert.equal(await store.pins.has(broken), true, 'an unreadable record is still a pin')

      const { pins, unreadable } = await store.pins.scan()
      assert.deepEqual(pins.map(p => p.name), ['kept'])
      assert.equal(unreadable.length, 1)
      assert.equal(unreadable[0].file, recordOf(broken))
      assert.equal(unreadable[0].cid?.toString(), broken.toV1().toString())
      assert.match(unreadable[0].reason, /not JSON/)
      assert.equal((await store.stat()).pins, 2)
    })

    it('gc refuses and removes nothing, naming the file and what to do', async () => {
      const before = await blockCount(store)
      const err = await rejectsNamed(store.gc(), 'UnreadablePinError')
      assert.ok(err.message.includes(recordOf(broken)), err.message)
      assert.match(err.message, /nothing was removed/)
      assert.match(err.message, new RegExp(`shoal pin rm ${broken.toV1().toString()}`))
      assert.equal(await blockCount(store), before)
      assert.equal(await store.blocks.has(loose), true)
      assert.deepEqual(await store.missing(broken), [])
    })

    it('gc runs again once the record is written anew, and keeps its DAG', async () => {
      await store.pin(broken, { name: 'broken', size: 1 })
      const r = await store.gc()
      assert.equal(r.removed, 1, 'only the loose block goes')
      assert.equal(await store.blocks.has(loose), false)
      assert.deepEqual(await store.missing(broken), [])
      assert.deepEqual(await store.missing(pinned), [])
    })

    it('gc runs once the record is removed, and then collects its DAG', async () => {
      await store.unpin(broken)
      await store.gc()
      assert.ok((await store.missing(broken)).length > 0)
      assert.deepEqual(await store.missing(pinned), [])
    })

    it('records that are JSON but not a pin, or name another root, are unreadable too', async () => {
      await fs.writeFile(recordOf(broken), JSON.stringify({ cid: broken.toString(), name: 'broken' }))
      assert.match((await store.pins.scan()).unreadable[0].reason, /lacks/)
      await fs.writeFile(recordOf(broken), JSON.stringify({ cid: pinned.toString(), name: 'x', size: 1, pinnedAt: 1 }))
      assert.match((await store.pins.scan()).unreadable[0].reason, new RegExp(`names ${pinned}`))
      await fs.writeFile(recordOf(broken), '')
      assert.match((await store.pins.scan()).unreadable[0].reason, /empty/)
      await rejectsNamed(store.gc(), 'UnreadablePinError')
    })

    it('eviction keeps the DAG of the root the file is named for, evicts the rest and reports the record', async () => {
      const r = await store.evict(0)
      assert.equal(r.removed, 1)
      assert.equal(await store.blocks.has(loose), false)
      assert.deepEqual(await store.missing(broken), [], 'nothing of the unreadable pin is evicted')
      assert.deepEqual(await store.missing(pinned), [])
      assert.deepEqual(r.unreadablePins.map(u => u.file), [recordOf(broken)])
    })

    it('eviction refuses and removes nothing when a record is not named by a CID', async () => {
      await fs.writeFile(path.join(pinsDir, 'not-a-cid.json'), '{}')
      const before = await blockCount(store)
      const err = await rejectsNamed(store.evict(0), 'UnreadablePinError')
      assert.ok(err.message.includes('not-a-cid.json'), err.message)
      assert.equal(await blockCount(store), before)
    })

    it('verify reports it and leaves it alone', async () => {
      const r = await store.verify({ drop: true })
      assert.deepEqual(r.corrupt, [])
      assert.deepEqual(r.unreadablePins.map(u => u.file), [recordOf(broken)])
      assert.equal(await fs.readFile(recordOf(broken), 'utf8'), '{garbage\n')
    })

    it('a pins directory that cannot be listed fails gc rather than looking empty', async () => {
      await fs.rm(pinsDir, { recursive: true })
      await fs.writeFile(pinsDir, '')
      await rejectsNamed(store.gc(), 'UnreadablePinError')
      await rejectsNamed(store.evict(0), 'UnreadablePinError')
      assert.equal(await store.blocks.has(loose), true)
    })
  })
})
