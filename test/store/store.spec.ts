/**
 * The store over real UnixFS DAGs: pin, unpin, gc, verify and stat.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { exporter } from 'ipfs-unixfs-exporter'
import { importer } from 'ipfs-unixfs-importer'
import { storePerTest } from '../helpers/store.js'
import type { Store } from '../../src/store/index.js'
import type { CIDProfile, ImportCandidate } from 'ipfs-unixfs-importer'
import { bytesOf } from '../helpers/bytes.js'
import { rejectsNamed } from '../helpers/assert.js'

const MiB = 1024 * 1024

const mh = (cid: CID): string => Buffer.from(cid.multihash.bytes).toString('hex')

/** The raw CIDv1 of a multihash key, as the store lists it */
const cidOf = (key: string): CID => CID.createV1(raw.code, Digest.decode(Buffer.from(key, 'hex')))

interface Imported {
  root: CID
  /** Multihashes (hex) of every block reachable from the root */
  blocks: Set<string>
}

/**
 * Import candidates into the store's blocks. The blocks of the DAG are found by walking it from
 * the root over what the importer wrote (not over the store), since the importer may also write
 * blocks no root links to (an empty directory node, for one).
 */
async function importInto (store: Store, candidates: ImportCandidate[], profile: CIDProfile = 'unixfs-v1-2025'): Promise<Imported> {
  const written = new Map<string, { cid: CID, bytes: Uint8Array }>()
  const recording = {
    put: async (cid: CID, bytes: any) => {
      assert.ok(bytes instanceof Uint8Array)
      written.set(mh(cid), { cid, bytes })
      return store.blocks.put(cid, bytes)
    }
  }
  let root: CID | undefined
  for await (const r of importer(candidates, recording, { profile })) root = r.cid
  assert.ok(root != null)
  const blocks = new Set<string>()
  const queue = [root]
  for (let cid = queue.shift(); cid != null; cid = queue.shift()) {
    if (blocks.has(mh(cid))) continue
    blocks.add(mh(cid))
    const block = written.get(mh(cid))
    assert.ok(block != null, `the importer wrote ${cid}`)
    if (cid.code === dagPb.code) queue.push(...dagPb.decode(block.bytes).Links.map(l => l.Hash))
  }
  return { root, blocks }
}

async function exportFile (store: Store, cid: CID | string): Promise<Buffer> {
  const entry = await exporter(cid, store.blocks)
  if (entry.type !== 'file' && entry.type !== 'raw') throw new Error(`${cid} is a ${entry.type}`)
  const chunks: Uint8Array[] = []
  for await (const c of entry.content()) chunks.push(c)
  return Buffer.concat(chunks)
}

async function storedBlocks (store: Store): Promise<Set<string>> {
  const out = new Set<string>()
  for await (const { cid } of store.blocks.list()) out.add(mh(cid))
  return out
}

describe('store', () => {
  let store: Store
  storePerTest((s) => { store = s })

  describe('pin', () => {
    it('pins a DAG whose blocks are all present', async () => {
      const file = await importInto(store, [{ path: 'a.bin', content: bytesOf('a', 3 * MiB) }])
      assert.ok(file.blocks.size >= 4, 'a 3 MiB file is several blocks')
      const pin = await store.pin(file.root, { name: 'a.bin', size: 3 * MiB })
      assert.equal(pin.cid.toString(), file.root.toString())
      assert.equal(await store.pins.has(file.root), true)
      const listed = await store.pins.list()
      assert.deepEqual(listed.map(p => [p.cid.toString(), p.name, p.size]), [[file.root.toString(), 'a.bin', 3 * MiB]])
    })

    it('refuses a DAG with a missing leaf: BlockNotFoundError naming it, and no pin written', async () => {
      const file = await importInto(store, [{ path: 'a.bin', content: bytesOf('a', 3 * MiB) }])
      const leaf = [...file.blocks].find(k => k !== mh(file.root))
      assert.ok(leaf != null)
      const leafCid = cidOf(leaf)
      await store.blocks.delete(leafCid)

      await assert.rejects(store.pin(file.root, { name: 'a.bin', size: 3 * MiB }), (err: any) => {
        assert.equal(err.name, 'BlockNotFoundError')
        assert.match(err.message, new RegExp(leafCid.toString()))
        return true
      })
      assert.equal(await store.pins.has(file.root), false)
      assert.deepEqual(await store.pins.list(), [])
    })

    it('refuses a root that is not in the store', async () => {
      const cid = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode('absent')))
      await rejectsNamed(store.pin(cid, { name: 'x', size: 6 }), 'BlockNotFoundError')
      assert.deepEqual(await store.pins.list(), [])
    })

    it('unpin removes a pin; unpin of a CID that is not pinned throws NotPinnedError', async () => {
      const file = await importInto(store, [{ path: 'small', content: bytesOf('s', 100) }])
      await rejectsNamed(store.unpin(file.root), 'NotPinnedError')
      await store.pin(file.root, { name: 'small', size: 100 })
      await store.unpin(file.root)
      assert.equal(await store.pins.has(file.root), false)
      await rejectsNamed(store.unpin(file.root), 'NotPinnedError')
    })
  })

  describe('gc', () => {
    it('removes unpinned blocks, keeps every block of pinned DAGs, and pinned content still exports', async () => {
      const a = bytesOf('a', 3 * MiB)
      // shares its first 1 MiB leaf with a, so gc must keep that leaf for a
      const c = Buffer.concat([a.subarray(0, MiB), bytesOf('c', 2 * MiB + 123)])
      const fileA = await importInto(store, [{ path: 'a.bin', content: a }])
      const fileB = await importInto(store, [{ path: 'b.bin', content: bytesOf('b', 3 * MiB) }])
      const fileC = await importInto(store, [{ path: 'c.bin', content: c }])
      const dirFiles: Record<string, Uint8Array> = {
        'dir/one.txt': new TextEncoder().encode('one\n'),
        'dir/sub/big.bin': bytesOf('big', 2 * MiB + 7),
        'dir/sub/empty': new Uint8Array(0)
      }
      const dir = await importInto(store, [
        { path: 'dir' },
        { path: 'dir/sub' },
        ...Object.entries(dirFiles).map(([path, content]) => ({ path, content }))
      ])
      // a CIDv0 DAG (dag-pb leaves) too: gc must match blocks by multihash, not by CID
      const v0 = await importInto(store, [{ path: 'v0.bin', content: bytesOf('v0', 2 * MiB) }], 'unixfs-v0-2015')
      assert.equal(v0.root.version, 0)

      const shared = [...fileA.blocks].filter(k => fileC.blocks.has(k))
      assert.equal(shared.length, 1, 'a and c share one leaf')

      await store.pin(fileA.root, { name: 'a.bin', size: a.byteLength })
      await store.pin(dir.root, { name: 'dir', size: 0 })
      await store.pin(v0.root, { name: 'v0.bin', size: 2 * MiB })

      const needed = new Set([...fileA.blocks, ...dir.blocks, ...v0.blocks])
      const before = await storedBlocks(store)
      const result = await store.gc()

      const after = await storedBlocks(store)
      assert.deepEqual(after, needed)
      assert.equal(result.kept, needed.size)
      assert.equal(result.removed, before.size - needed.size)
      assert.ok(result.removed >= fileB.blocks.size, 'all of b is gone')
      for (const k of fileB.blocks) assert.equal(after.has(k), false)
      assert.equal(after.has(mh(fileC.root)), false)
      assert.equal(after.has(shared[0] as string), true)
      assert.ok(result.freed >= 3 * MiB)

      // every pinned file reads back byte for byte
      assert.deepEqual(await exportFile(store, fileA.root), Buffer.from(a))
      assert.deepEqual(await exportFile(store, v0.root), Buffer.from(bytesOf('v0', 2 * MiB)))
      for (const [path, content] of Object.entries(dirFiles)) {
        const rel = path.slice('dir/'.length)
        assert.deepEqual(await exportFile(store, `${dir.root}/${rel}`), Buffer.from(content), path)
      }
      // and what was not pinned is gone
      await assert.rejects(exportFile(store, fileB.root))

      // a second gc finds nothing more to remove
      const again = await store.gc()
      assert.deepEqual(again, { removed: 0, freed: 0, kept: needed.size })
    })

    it('with no pins removes everything', async () => {
      await importInto(store, [{ path: 'a.bin', content: bytesOf('a', MiB + 1) }])
      const before = await storedBlocks(store)
      const result = await store.gc()
      assert.equal(result.removed, before.size)
      assert.equal(result.kept, 0)
      assert.equal((await storedBlocks(store)).size, 0)
    })

    it('an unpinned DAG is collected once its pin is removed', async () => {
      const file = await importInto(store, [{ path: 'a.bin', content: bytesOf('a', 2 * MiB) }])
      await store.pin(file.root, { name: 'a.bin', size: 2 * MiB })
      assert.equal((await store.gc()).removed, 0)
      await store.unpin(file.root)
      assert.equal((await store.gc()).removed, file.blocks.size)
      assert.equal(await store.blocks.has(file.root), false)
    })
  })

  describe('verify', () => {
    it('reports a block whose file was overwritten, leaves good blocks alone, and drops it when asked', async () => {
      const file = await importInto(store, [{ path: 'a.bin', content: bytesOf('a', 3 * MiB) }])
      const leafKey = [...file.blocks].find(k => k !== mh(file.root)) as string
      const leaf = cidOf(leafKey)
      const good = [...file.blocks].filter(k => k !== leafKey)
      const goodBytes = new Map<string, Buffer>()
      for await (const { cid } of store.blocks.list()) {
        if (mh(cid) !== leafKey) goodBytes.set(mh(cid), Buffer.from(await store.blocks.getBytes(cid)))
      }

      const clean = await store.verify()
      assert.deepEqual(clean, { checked: file.blocks.size, corrupt: [], skipped: 0, dropped: false, unreadablePins: [] })

      await fs.writeFile(store.blocks.pathOf(leaf), bytesOf('not the leaf', MiB))

      const report = await store.verify()
      assert.equal(report.checked, file.blocks.size)
      assert.deepEqual(report.corrupt.map(mh), [leafKey])
      assert.equal(report.dropped, false)
      assert.equal(await store.blocks.has(leaf), true, 'without drop the bad block stays')

      const dropped = await store.verify({ drop: true })
      assert.deepEqual(dropped.corrupt.map(mh), [leafKey])
      assert.equal(dropped.dropped, true)
      assert.equal(await store.blocks.has(leaf), false)

      // the good blocks are untouched
      assert.deepEqual(await storedBlocks(store), new Set(good))
      for await (const { cid } of store.blocks.list()) {
        assert.deepEqual(Buffer.from(await store.blocks.getBytes(cid)), goodBytes.get(mh(cid)))
      }
      const after = await store.verify()
      assert.deepEqual(after.corrupt, [])
      assert.equal(after.checked, good.length)
    })
  })

  describe('stat', () => {
    it('counts blocks, their bytes and pins', async () => {
      assert.deepEqual(await store.stat(), { blocks: 0, bytes: 0, pins: 0, pinnedSize: 0 })
      const file = await importInto(store, [{ path: 'a.bin', content: bytesOf('a', 3 * MiB) }])
      const small = await importInto(store, [{ path: 'b', content: bytesOf('b', 10) }])
      let bytes = 0
      for (const key of [...file.blocks, ...small.blocks]) {
        const st = await fs.stat(store.blocks.pathOf(cidOf(key)))
        bytes += st.size
      }
      await store.pin(file.root, { name: 'a.bin', size: 3 * MiB })
      const stat = await store.stat()
      assert.deepEqual(stat, { blocks: file.blocks.size + small.blocks.size, bytes, pins: 1, pinnedSize: 3 * MiB })
      assert.ok(stat.bytes > 3 * MiB)
    })
  })
})
