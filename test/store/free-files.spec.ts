/**
 * Files of removed blocks kept for reuse (`.free/`): a removed block's file is moved out of its
 * name and emptied, a later direct write takes it, and a block's name only ever holds that
 * block's whole bytes; the list is bounded, waits for reads in flight, and survives a crash.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { alignedBuffer } from '../../src/store/aligned.js'
import { FsBlocks } from '../../src/store/blocks.js'
import { FreeFiles } from '../../src/store/free-files.js'
import { tmpDir } from '../helpers/tmp.js'

const MAX = 2 * 1024 * 1024

async function alignedBlock (size: number): Promise<{ cid: CID, bytes: Uint8Array, buf: Uint8Array }> {
  const buf = alignedBuffer(size)
  const bytes = randomBytes(size)
  buf.set(bytes)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes, buf }
}

async function freeEntries (dir: string): Promise<Array<{ name: string, size: number, ino: number }>> {
  const free = path.join(dir, '.free')
  const names = await fs.readdir(free)
  return await Promise.all(names.map(async (name) => {
    const st = await fs.stat(path.join(free, name))
    return { name, size: st.size, ino: st.ino }
  }))
}

async function listed (blocks: FsBlocks): Promise<string[]> {
  const out: string[] = []
  for await (const b of blocks.list()) out.push(b.cid.toString())
  return out
}

describe('store: free files of removed blocks', () => {
  let tmp: { dir: string, cleanup(): Promise<void> }

  beforeEach(async () => {
    tmp = await tmpDir()
  })

  afterEach(async () => {
    await tmp.cleanup()
  })

  it('a removed block\'s file is kept empty and written again by the next direct block, which holds its own bytes only', async function () {
    const blocks = new FsBlocks(tmp.dir, { maxBlockSize: MAX, fsync: true })
    await blocks.open()
    const a = await alignedBlock(1024 * 1024)
    assert.equal(await blocks.putVerified(a.cid, [a.buf]), true)
    if (blocks.directWrites !== true) this.skip() // the temp dir's file system refuses O_DIRECT
    const ino = (await fs.stat(blocks.pathOf(a.cid))).ino

    await blocks.delete(a.cid)
    assert.equal(await blocks.has(a.cid), false)
    const free = await freeEntries(tmp.dir)
    assert.deepEqual(free.map(f => [f.size, f.ino]), [[0, ino]], 'moved out of its name and emptied')
    assert.equal(blocks.freeFiles, 1)
    assert.deepEqual(await listed(blocks), [])

    // a smaller block in the same file: cut to its size, its own bytes
    const b = await alignedBlock(300_001)
    assert.equal(await blocks.putVerified(b.cid, [b.buf]), true)
    const st = await fs.stat(blocks.pathOf(b.cid))
    assert.equal(st.ino, ino)
    assert.equal(st.size, 300_001)
    assert.deepEqual(await blocks.getBytes(b.cid), b.bytes)
    assert.deepEqual(await freeEntries(tmp.dir), [])
    assert.equal(blocks.freeFiles, 0)
  })

  it('a block that does not match its CID is not written to a free file, which stays free', async function () {
    const blocks = new FsBlocks(tmp.dir, { maxBlockSize: MAX, fsync: false })
    await blocks.open()
    const a = await alignedBlock(300_001)
    await blocks.putVerified(a.cid, [a.buf])
    if (blocks.directWrites !== true) this.skip()
    await blocks.delete(a.cid)
    const bad = await alignedBlock(300_001)
    bad.buf[7] ^= 1
    assert.equal(await blocks.putVerified(bad.cid, [bad.buf]), false)
    assert.equal(await blocks.has(bad.cid), false)
    assert.deepEqual((await freeEntries(tmp.dir)).map(f => f.size), [0])
    assert.equal(blocks.freeFiles, 1)
  })

  it('a store reopened after a crash never lists free files as blocks, and cuts one a crash left full to the next block\'s size', async function () {
    const blocks = new FsBlocks(tmp.dir, { maxBlockSize: MAX, fsync: false })
    await blocks.open()
    const a = await alignedBlock(300_001)
    await blocks.putVerified(a.cid, [a.buf])
    if (blocks.directWrites !== true) this.skip()
    // a crash part-way through writing a free file: under a block's key name, even, it is not a block
    const key = path.basename(blocks.pathOf(a.cid))
    await fs.writeFile(path.join(tmp.dir, '.free', key), randomBytes(MAX))
    await fs.writeFile(path.join(tmp.dir, '.tmp', 'half'), randomBytes(1000))

    const reopened = new FsBlocks(tmp.dir, { maxBlockSize: MAX, fsync: false })
    await reopened.open()
    assert.deepEqual(await fs.readdir(path.join(tmp.dir, '.tmp')), [])
    assert.deepEqual(await listed(reopened), [a.cid.toString()])
    const b = await alignedBlock(100_000)
    assert.equal(await reopened.putVerified(b.cid, [b.buf]), true)
    assert.equal((await fs.stat(reopened.pathOf(b.cid))).size, 100_000)
    assert.deepEqual(await reopened.getBytes(b.cid), b.bytes)
    assert.deepEqual(await fs.readdir(path.join(tmp.dir, '.free')), [])
  })

  it('is bounded: past its size a removed file is deleted, and files over it found at start are removed', async () => {
    const dir = path.join(tmp.dir, 'free')
    const files = await Promise.all([0, 1, 2].map(async (i) => {
      const file = path.join(tmp.dir, `block-${i}`)
      await fs.writeFile(file, randomBytes(100))
      return file
    }))
    const free = new FreeFiles(dir, { max: 2, prefix: 'p' })
    assert.equal(await free.keep(files[0]), true)
    assert.equal(await free.keep(files[1]), true)
    assert.equal(await free.keep(files[2]), false)
    assert.equal(free.size, 2)
    assert.equal((await fs.readdir(dir)).length, 2)
    await fs.access(files[2])

    await fs.writeFile(path.join(dir, 'left-by-a-crash'), 'x')
    const again = new FreeFiles(dir, { max: 2, prefix: 'q' })
    await again.load()
    assert.equal(again.size, 2)
    assert.equal((await fs.readdir(dir)).length, 2)
  })

  it('a file removed while a read is in flight is handed out only once that read is over', async () => {
    const free = new FreeFiles(path.join(tmp.dir, 'free'), { max: 10, prefix: 'p' })
    const file = path.join(tmp.dir, 'block')
    await fs.writeFile(file, randomBytes(100))
    let finish!: () => void
    const read = free.reading(async () => { await new Promise<void>((resolve) => { finish = resolve }) })
    assert.equal(await free.keep(file), true)
    assert.equal(free.take(), undefined)
    finish()
    await read
    let taken: string | undefined
    for (let i = 0; i < 100 && taken == null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
      taken = free.take()
    }
    assert.ok(taken != null)
    assert.equal((await fs.stat(taken)).size, 0)
    assert.equal(free.take(), undefined)
  })
})
