/**
 * The on-disk blockstore: one file per multihash, written through `.tmp/` and renamed into place.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { createStore } from '../../src/store/index.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Store } from '../../src/store/index.js'
import { rejectsNamed } from '../helpers/assert.js'

const MAX = 64 * 1024

async function rawBlock (bytes: Uint8Array): Promise<{ cid: CID, bytes: Uint8Array }> {
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

/** Every regular file under `dir`, relative to it */
async function filesUnder (dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter(e => e.isFile())
    .map(e => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort()
}

describe('store: blocks', () => {
  let tmp: { dir: string, cleanup(): Promise<void> }
  let store: Store
  let blocksDir: string

  beforeEach(async () => {
    tmp = await tmpDir()
    store = createStore(tmp.dir, { maxBlockSize: MAX, fsync: false })
    await store.open()
    blocksDir = path.join(tmp.dir, 'blocks')
  })

  afterEach(async () => {
    await tmp.cleanup()
  })

  it('put, has, getBytes, get and delete round-trip a block', async () => {
    const { cid, bytes } = await rawBlock(randomBytes(1000))
    assert.equal(await store.blocks.has(cid), false)

    assert.equal((await store.blocks.put(cid, bytes)).toString(), cid.toString())
    assert.equal(await store.blocks.has(cid), true)
    assert.deepEqual(Buffer.from(await store.blocks.getBytes(cid)), Buffer.from(bytes))
    const chunks: Uint8Array[] = []
    for await (const c of store.blocks.get(cid)) chunks.push(c)
    assert.deepEqual(Buffer.concat(chunks), Buffer.from(bytes))
    assert.equal(await store.blocks.sizeOf(cid), 1000)
    assert.deepEqual(await fs.readFile(store.blocks.pathOf(cid)), Buffer.from(bytes))

    await store.blocks.delete(cid)
    assert.equal(await store.blocks.has(cid), false)
    assert.equal(await store.blocks.sizeOf(cid), undefined)
    await rejectsNamed(store.blocks.getBytes(cid), 'BlockNotFoundError')
  })

  it('put accepts a block as an async iterable of chunks', async () => {
    const bytes = randomBytes(3000)
    const { cid } = await rawBlock(bytes)
    await store.blocks.put(cid, (async function * () {
      yield bytes.subarray(0, 1000)
      yield bytes.subarray(1000)
    })())
    assert.deepEqual(Buffer.from(await store.blocks.getBytes(cid)), bytes)
  })

  it('identity CIDs are answered from the CID and never written', async () => {
    const bytes = new TextEncoder().encode('inline')
    const cid = CID.createV1(raw.code, identity.digest(bytes))
    assert.equal((await store.blocks.put(cid, bytes)).toString(), cid.toString())
    assert.equal(await store.blocks.has(cid), true)
    assert.deepEqual(await store.blocks.getBytes(cid), bytes)
    assert.deepEqual(await filesUnder(blocksDir), [])
    const listed = []
    for await (const b of store.blocks.list()) listed.push(b)
    assert.equal(listed.length, 0)
  })

  it('put of a block larger than maxBlockSize throws BlockTooLargeError and leaves no file', async () => {
    const big = randomBytes(MAX + 1)
    const { cid } = await rawBlock(big)
    await rejectsNamed(store.blocks.put(cid, big), 'BlockTooLargeError')
    assert.equal(await store.blocks.has(cid), false)
    assert.deepEqual(await filesUnder(blocksDir), [])
  })

  it('a streamed block that crosses maxBlockSize after a partial write leaves nothing in .tmp', async () => {
    const big = randomBytes(MAX + 10)
    const { cid } = await rawBlock(big)
    // the first chunk fits and is written to the temporary file before the limit is crossed
    const chunks = (async function * () {
      yield big.subarray(0, MAX - 10)
      yield big.subarray(MAX - 10)
    })()
    await rejectsNamed(store.blocks.put(cid, chunks), 'BlockTooLargeError')
    assert.equal(await store.blocks.has(cid), false)
    assert.deepEqual(await fs.readdir(path.join(blocksDir, '.tmp')), [])
    assert.deepEqual(await filesUnder(blocksDir), [])
  })

  it('a block of exactly maxBlockSize is accepted', async () => {
    const { cid, bytes } = await rawBlock(randomBytes(MAX))
    await store.blocks.put(cid, bytes)
    assert.equal(await store.blocks.sizeOf(cid), MAX)
  })

  it('open() removes a file left in .tmp and keeps stored blocks', async () => {
    const { cid, bytes } = await rawBlock(randomBytes(100))
    await store.blocks.put(cid, bytes)
    const leftover = path.join(blocksDir, '.tmp', 'deadbeefdeadbeef')
    await fs.writeFile(leftover, 'half a block')

    const reopened = createStore(tmp.dir, { maxBlockSize: MAX, fsync: false })
    await reopened.open()

    assert.deepEqual(await fs.readdir(path.join(blocksDir, '.tmp')), [])
    assert.deepEqual(Buffer.from(await reopened.blocks.getBytes(cid)), Buffer.from(bytes))
  })

  it('list() yields every block put, as raw CIDv1s of their multihash, with sizes', async () => {
    const put = new Map<string, number>()
    for (let i = 0; i < 20; i++) {
      const { cid, bytes } = await rawBlock(randomBytes(10 + i))
      await store.blocks.put(cid, bytes)
      put.set(cid.toString(), bytes.byteLength)
    }
    // a dag-pb block is listed under the raw CIDv1 of the same multihash
    const node = dagPb.encode(dagPb.prepare({ Data: new Uint8Array([1, 2, 3]) }))
    const pbCid = CID.createV1(dagPb.code, await sha256.digest(node))
    await store.blocks.put(pbCid, node)
    put.set(CID.createV1(raw.code, pbCid.multihash).toString(), node.byteLength)

    const listed = new Map<string, number>()
    for await (const { cid, size } of store.blocks.list()) listed.set(cid.toString(), size)
    assert.deepEqual(listed, put)
  })

  it('the same multihash under CIDv0 and CIDv1 shares one file', async () => {
    const node = dagPb.encode(dagPb.prepare({ Data: randomBytes(50) }))
    const digest = await sha256.digest(node)
    const v0 = CID.createV0(digest)
    const v1 = CID.createV1(dagPb.code, digest)
    assert.notEqual(v0.toString(), v1.toString())
    assert.equal(store.blocks.pathOf(v0), store.blocks.pathOf(v1))

    await store.blocks.put(v0, node)
    assert.equal(await store.blocks.has(v1), true)
    assert.deepEqual(Buffer.from(await store.blocks.getBytes(v1)), Buffer.from(node))
    // a second put under the other version writes nothing new
    await store.blocks.put(v1, node)
    assert.deepEqual(await filesUnder(blocksDir), [path.relative(blocksDir, store.blocks.pathOf(v0))])

    await store.blocks.delete(v1)
    assert.equal(await store.blocks.has(v0), false)
  })

  it('getBytes and get of a missing block throw BlockNotFoundError', async () => {
    const { cid } = await rawBlock(randomBytes(10))
    await rejectsNamed(store.blocks.getBytes(cid), 'BlockNotFoundError')
    await rejectsNamed((async () => { for await (const _ of store.blocks.get(cid)) { /* drain */ } })(), 'BlockNotFoundError')
  })

  it('delete of a missing block is not an error', async () => {
    const { cid } = await rawBlock(randomBytes(10))
    await store.blocks.delete(cid)
    assert.equal(await store.blocks.has(cid), false)
  })
})
