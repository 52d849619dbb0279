/**
 * Reads of part of a block (`readRange`) and the pool of block files it keeps open.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { OpenFiles } from '../../src/store/open-files.js'
import { createStore } from '../../src/store/index.js'
import { rejectsNamed } from '../helpers/assert.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Store } from '../../src/store/index.js'

async function rawBlock (bytes: Uint8Array): Promise<{ cid: CID, bytes: Uint8Array }> {
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

/** Whether `fd` is an open descriptor of `file` (an fd number may be reused for another file) */
function isOpenOn (fd: number, file: string): boolean {
  try {
    const a = fs.fstatSync(fd)
    const b = fs.statSync(file)
    return a.ino === b.ino && a.dev === b.dev
  } catch {
    return false
  }
}

const tick = async (): Promise<void> => new Promise(resolve => setTimeout(resolve, 20))

/** Descriptors this process holds open on files under `dir` (Linux: /proc/self/fd) */
function openUnder (dir: string): number {
  let n = 0
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir + '/')) n++
    } catch {}
  }
  return n
}

/** A file's text by its descriptor, read at position 0 (descriptors are shared: no file position) */
function textOf (fd: number): string {
  const buf = Buffer.alloc(64)
  return buf.subarray(0, fs.readSync(fd, buf, 0, buf.byteLength, 0)).toString()
}

describe('store: open block files', () => {
  let tmp: { dir: string, cleanup(): Promise<void> }
  let files: string[]

  beforeEach(async () => {
    tmp = await tmpDir()
    files = []
    for (let i = 0; i < 6; i++) {
      const f = path.join(tmp.dir, `f${i}`)
      await fsp.writeFile(f, `file ${i}`)
      files.push(f)
    }
  })

  afterEach(async () => {
    await tmp.cleanup()
  })

  it('reuses the descriptor of a file read again', async () => {
    const pool = new OpenFiles(4)
    const first = await pool.use(files[0], async (fd) => fd)
    const second = await pool.use(files[0], async (fd) => fd)
    assert.equal(second, first)
    assert.equal(pool.size, 1)
    assert.ok(isOpenOn(first, files[0]))
    await pool.close()
  })

  it('never holds more than its bound, closing the least recently used idle file first', async () => {
    const pool = new OpenFiles(2)
    const a = await pool.use(files[0], async (fd) => fd)
    const b = await pool.use(files[1], async (fd) => fd)
    await pool.use(files[0], async () => {})
    // a was used last: b is the one closed to make room for c
    await pool.use(files[2], async () => {})
    await tick()
    assert.equal(pool.size, 2)
    assert.ok(isOpenOn(a, files[0]), 'the recently used file stays open')
    assert.ok(!isOpenOn(b, files[1]), 'the least recently used file was closed')
  })

  it('makes reads wait while every descriptor is in use, and serves them all', async () => {
    const pool = new OpenFiles(2)
    let most = 0
    const read = async (file: string): Promise<string> => pool.use(file, async (fd) => {
      most = Math.max(most, pool.size, openUnder(tmp.dir))
      await tick()
      return textOf(fd)
    })
    const got = await Promise.all([...files, ...files].map(read))
    assert.deepEqual(got, [...files, ...files].map((_f, i) => `file ${i % files.length}`))
    assert.ok(most <= 2, `at most 2 descriptors open at once, saw ${most}`)
    await pool.close()
    await tick()
    assert.equal(pool.size, 0)
  })

  it('forget closes a file once its read ends, and the next read opens it again', async () => {
    const pool = new OpenFiles(4)
    let during = -1
    const reading = pool.use(files[0], async (fd) => {
      during = fd
      pool.forget(files[0])
      await tick()
      // still open for the read that holds it
      return isOpenOn(fd, files[0])
    })
    assert.equal(await reading, true)
    await tick()
    assert.ok(!isOpenOn(during, files[0]), 'closed after the read')
    assert.equal(pool.size, 0)
    const again = await pool.use(files[0], async (fd) => textOf(fd))
    assert.equal(again, 'file 0')
    await pool.close()
  })

  it('a failed open rejects with its error and takes no room', async () => {
    const pool = new OpenFiles(1)
    await assert.rejects(pool.use(path.join(tmp.dir, 'absent'), async () => {}), (err: any) => err.code === 'ENOENT')
    assert.equal(pool.size, 0)
    assert.equal(await pool.use(files[1], async (fd) => textOf(fd)), 'file 1')
    await pool.close()
  })
})

describe('store: readRange', () => {
  let tmp: { dir: string, cleanup(): Promise<void> }
  let store: Store

  beforeEach(async () => {
    tmp = await tmpDir()
    store = createStore(tmp.dir, { maxBlockSize: 1024 * 1024, fsync: false })
    await store.open()
  })

  afterEach(async () => {
    await store.close()
    await tmp.cleanup()
  })

  it('reads the bytes asked for, fewer past the end, and none past it', async () => {
    const { cid, bytes } = await rawBlock(randomBytes(100_000))
    await store.blocks.put(cid, bytes)
    for (const [offset, length] of [[0, 1], [0, 100_000], [12_345, 54_321], [99_999, 1], [65_536, 65_536]]) {
      assert.deepEqual(Buffer.from(await store.blocks.readRange(cid, offset, length)), Buffer.from(bytes.subarray(offset, offset + length)), `${length} at ${offset}`)
    }
    assert.equal((await store.blocks.readRange(cid, 99_000, 5000)).byteLength, 1000)
    assert.equal((await store.blocks.readRange(cid, 100_000, 10)).byteLength, 0)
  })

  it('reads into a given buffer and returns a view of it', async () => {
    const { cid, bytes } = await rawBlock(randomBytes(4096))
    await store.blocks.put(cid, bytes)
    const into = Buffer.alloc(1000)
    const got = await store.blocks.readRange(cid, 100, 500, { into })
    assert.equal(got.buffer, into.buffer)
    assert.deepEqual(Buffer.from(got), Buffer.from(bytes.subarray(100, 600)))
    await assert.rejects(store.blocks.readRange(cid, 0, 2000, { into }), RangeError)
  })

  it('answers an identity CID from the CID itself', async () => {
    const cid = CID.createV1(raw.code, identity.digest(Buffer.from('inline bytes')))
    assert.equal(Buffer.from(await store.blocks.readRange(cid, 7, 5)).toString(), 'bytes')
  })

  it('a block not stored, or deleted after a read kept its file open, is BlockNotFoundError', async () => {
    const { cid, bytes } = await rawBlock(randomBytes(1000))
    await rejectsNamed(store.blocks.readRange(cid, 0, 10), 'BlockNotFoundError')
    await store.blocks.put(cid, bytes)
    assert.equal((await store.blocks.readRange(cid, 0, 10)).byteLength, 10)
    await store.blocks.delete(cid)
    await rejectsNamed(store.blocks.readRange(cid, 0, 10), 'BlockNotFoundError')
  })

  it('refuses a negative or fractional range', async () => {
    const { cid, bytes } = await rawBlock(randomBytes(100))
    await store.blocks.put(cid, bytes)
    await assert.rejects(store.blocks.readRange(cid, -1, 10), RangeError)
    await assert.rejects(store.blocks.readRange(cid, 0, 1.5), RangeError)
  })
})
