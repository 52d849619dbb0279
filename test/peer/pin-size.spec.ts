/**
 * The size a pin records: what publish counts (file bytes, summed over a tree), whichever way the
 * DAG arrived (fetch, import, pin add count it from the store with `dagSize`).
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { importContent } from '../../src/content/index.js'
import { dagSize } from '../../src/peer/content-commands.js'
import { fetchAndPin } from '../../src/peer/online-content.js'
import { bytesOf } from '../helpers/bytes.js'
import { storePerTest } from '../helpers/store.js'
import type { ImportEntry } from '../../src/content/index.js'
import type { Store } from '../../src/store/index.js'

const MiB = 1024 * 1024

async function * entries (list: Array<Omit<ImportEntry, 'content'> & { bytes?: Uint8Array }>): AsyncGenerator<ImportEntry> {
  for (const { bytes, ...e } of list) {
    yield bytes != null ? { ...e, content: (async function * () { yield bytes })() } : e
  }
}

describe('peer: pin size', () => {
  let store: Store
  let dir: string
  storePerTest((s, d) => { store = s; dir = d })

  for (const profile of ['unixfs-v1-2025', 'unixfs-v0-2015']) {
    it(`a directory tree counts every file under it, as publish does (${profile})`, async () => {
      // the first entry is small, so a size taken from it rather than the tree shows
      const published = await importContent(entries([
        { path: 'tree', kind: 'directory' },
        { path: 'tree/a.txt', kind: 'file', bytes: bytesOf('a', 2) },
        { path: 'tree/big.bin', kind: 'file', bytes: bytesOf('big', 3 * MiB + 17) },
        { path: 'tree/sub', kind: 'directory' },
        { path: 'tree/sub/b.txt', kind: 'file', bytes: bytesOf('b', 1000) },
        { path: 'tree/sub/empty', kind: 'directory' },
        { path: 'tree/link', kind: 'symlink', target: 'a.txt' }
      ]), store.blocks, { profile })
      assert.equal(published.size, 2 + 3 * MiB + 17 + 1000)
      assert.equal(await dagSize(store.blocks, published.cid), published.size)
    })
  }

  it('a file counts its bytes, and an empty directory nothing', async () => {
    const file = await importContent(entries([{ path: 'f.bin', kind: 'file', bytes: bytesOf('f', 2 * MiB + 5) }]), store.blocks)
    assert.equal(await dagSize(store.blocks, file.cid), file.size)
    const empty = await importContent(entries([{ path: 'd', kind: 'directory' }]), store.blocks)
    assert.equal(await dagSize(store.blocks, empty.cid), 0)
  })

  it('a raw block counts its bytes, and a DAG that is not here counts 0', async () => {
    const bytes = bytesOf('raw', 777)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    await store.blocks.put(cid, bytes)
    assert.equal(await dagSize(store.blocks, cid), 777)
    const absent = CID.createV1(raw.code, await sha256.digest(bytesOf('absent', 3)))
    assert.equal(await dagSize(store.blocks, absent), 0)
  })

  it('stops when aborted', async () => {
    const tree = await importContent(entries([
      { path: 't', kind: 'directory' },
      { path: 't/x', kind: 'file', bytes: bytesOf('x', 10) }
    ]), store.blocks)
    const signal = AbortSignal.abort()
    await assert.rejects(dagSize(store.blocks, tree.cid, { signal }))
  })

  it('a replica fetched over an unreadable pin record pins it as the user\'s own, not as a replica', async () => {
    const published = await importContent(entries([{ path: 'f.bin', kind: 'file', bytes: bytesOf('f', 5000) }]), store.blocks, {})
    const root = published.cid
    await store.pin(root, { name: 'mine', size: 5000, origin: 'publish' })
    const record = (await fs.readdir(path.join(dir, 'pins'))).find(f => f.endsWith('.json'))
    assert.ok(record != null)
    await fs.writeFile(path.join(dir, 'pins', record), '{garbage')
    // every block is stored already: the session has nothing to fetch
    const session = (): any => ({ result: Promise.resolve({ cid: root.toString(), blocks: 1, bytes: 5000, fetchedBlocks: 0, fetchedBytes: 0, duplicates: 0, durationMs: 0 }), blockReady: async () => {} })
    const node = {
      session,
      routing: { provide: async () => ({ accepted: 0 }) } as any,
      quota: { enforceSoon: () => {} } as any,
      log: logger('shoal:test:pin-size')
    }
    await fetchAndPin({ store, node }, root.toString(), {}, 'replica')
    const pin = await store.pins.get(root)
    assert.equal(pin?.origin, 'fetch')
    assert.equal(pin?.size, 5000)
  })
})
