/**
 * Direct (O_DIRECT) block writes: a large block received into aligned memory is written past the
 * page cache, padded to the alignment and cut back to its size; where the file system refuses
 * direct I/O the store writes through the cache instead and stops trying. Blocks in that (shared)
 * memory are hashed and written by the block I/O thread; if it stops, callers do the work.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { IO_THREAD_IDLE_STOP } from '../../src/constants.js'
import { alignedBuffer, copyInto, directView, DIRECT_ALIGNMENT, isAligned } from '../../src/store/aligned.js'
import { FsBlocks } from '../../src/store/blocks.js'
import { IO_THREAD_FAILED, ioThread, isShared, setIoThreadIdleStop, stopIoThread } from '../../src/store/io-thread.js'
import { verifies } from '../../src/store/verify.js'
import { tmpDir } from '../helpers/tmp.js'

const MAX = 2 * 1024 * 1024

/** A block's bytes in aligned memory whose padding holds other bytes, as a reused buffer's would */
async function alignedBlock (size: number): Promise<{ cid: CID, bytes: Uint8Array, buf: Uint8Array }> {
  const buf = alignedBuffer(size)
  const whole = new Uint8Array(buf.buffer)
  whole.fill(0xee)
  const bytes = randomBytes(size)
  buf.set(bytes)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes, buf }
}

async function tmpEntries (dir: string): Promise<string[]> {
  return await fs.readdir(path.join(dir, '.tmp'))
}

describe('store: direct block writes', () => {
  let tmp: { dir: string, cleanup(): Promise<void> }

  beforeEach(async () => {
    tmp = await tmpDir()
  })

  afterEach(async () => {
    await tmp.cleanup()
  })

  it('aligned buffers are aligned, and a view of a block rounds up to the alignment', () => {
    const buf = alignedBuffer(100_001)
    assert.ok(isAligned(buf))
    assert.equal(buf.byteLength, 100_001)
    const view = directView(buf)
    assert.ok(view != null)
    assert.equal(view.byteLength % DIRECT_ALIGNMENT, 0)
    assert.ok(view.byteLength >= 100_001 && view.byteLength < 100_001 + DIRECT_ALIGNMENT)
    // a view that does not start on the alignment, and ordinary memory, have no direct view
    assert.equal(directView(buf.subarray(1)), undefined)
    assert.equal(directView(Buffer.alloc(100_000)), undefined)
    assert.ok(!isAligned(Buffer.alloc(10)))
  })

  it('copyInto copies at any offset into shared and ordinary memory, and refuses what does not fit', () => {
    const src = randomBytes(70_001)
    for (const make of [() => alignedBuffer(200_000), () => new Uint8Array(200_000)]) {
      const dst = make()
      dst.fill(0xee)
      // every pairing of source and target alignment, as a stream's chunks land in a block buffer
      for (let s = 0; s < 8; s++) {
        for (let d = 0; d < 8; d++) {
          const part = src.subarray(s, s + 65_536 + d)
          copyInto(dst, part, 1000 + d)
          assert.ok(Buffer.from(dst.buffer, dst.byteOffset + 1000 + d, part.byteLength).equals(part), `source +${s}, target +${d}`)
        }
      }
      assert.equal(dst[999], 0xee, 'nothing before the offset is touched')
      const before = Buffer.from(dst)
      copyInto(dst, new Uint8Array(0), 5)
      assert.throws(() => { copyInto(dst, src, 200_000 - 70_000) }, RangeError)
      assert.throws(() => { copyInto(dst, src.subarray(0, 10), -1) }, RangeError)
      assert.ok(Buffer.from(dst).equals(before), 'an empty or refused copy changes nothing')
    }
  })

  for (const size of [64 * 1024, 300_001, 1024 * 1024, MAX]) {
    it(`a ${size} byte block in aligned memory is written directly, byte for byte, and no padding is kept`, async function () {
      const blocks = new FsBlocks(tmp.dir, { maxBlockSize: MAX, fsync: true })
      await blocks.open()
      const { cid, bytes, buf } = await alignedBlock(size)
      await blocks.put(cid, [buf])
      if (blocks.directWrites !== true) this.skip() // the temp dir's file system refuses O_DIRECT
      const stat = await fs.stat(blocks.pathOf(cid))
      assert.equal(stat.size, size)
      assert.deepEqual(await blocks.getBytes(cid), bytes)
      assert.deepEqual(await tmpEntries(tmp.dir), [])
    })
  }

  it('putVerified stores a block that matches its CID and writes nothing of one that does not, in aligned and ordinary memory', async () => {
    const blocks = new FsBlocks(tmp.dir, { maxBlockSize: MAX, fsync: false })
    await blocks.open()
    for (const aligned of [true, false]) {
      const good = await alignedBlock(300_001)
      const goodBytes = aligned ? [good.buf] : [good.bytes.subarray(0, 100_000), good.bytes.subarray(100_000)]
      assert.equal(await blocks.putVerified(good.cid, goodBytes), true)
      assert.deepEqual(await blocks.getBytes(good.cid), good.bytes)
      // the right length, one byte changed
      const bad = await alignedBlock(300_001)
      bad.buf[12345] ^= 1
      const badBytes = aligned ? [bad.buf] : [Buffer.from(bad.buf)]
      assert.equal(await blocks.putVerified(bad.cid, badBytes), false)
      assert.equal(await blocks.has(bad.cid), false)
      assert.deepEqual(await tmpEntries(tmp.dir), [])
      await blocks.delete(good.cid)
    }
    // a block over the limit is refused before it is hashed or written
    const big = await alignedBlock(MAX + 4096)
    await assert.rejects(blocks.putVerified(big.cid, [big.buf]), { name: 'BlockTooLargeError' })
    assert.equal(await blocks.has(big.cid), false)
  })

  it('small blocks and blocks in ordinary memory go through the page cache', async () => {
    const blocks = new FsBlocks(tmp.dir, { maxBlockSize: MAX, fsync: false })
    await blocks.open()
    const small = await alignedBlock(1000)
    await blocks.put(small.cid, [small.buf])
    const bytes = randomBytes(500_000)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    await blocks.put(cid, [bytes])
    assert.equal(blocks.directWrites, undefined)
    assert.deepEqual(await blocks.getBytes(small.cid), small.bytes)
    assert.deepEqual(await blocks.getBytes(cid), bytes)
  })

  it('an oversized block in aligned memory is refused before anything is written', async () => {
    const blocks = new FsBlocks(tmp.dir, { maxBlockSize: 128 * 1024, fsync: false })
    await blocks.open()
    const { cid, buf } = await alignedBlock(200_000)
    await assert.rejects(blocks.put(cid, [buf]), (err: any) => err.name === 'BlockTooLargeError')
    assert.equal(await blocks.has(cid), false)
    assert.deepEqual(await tmpEntries(tmp.dir), [])
  })

  describe('on a file system without direct I/O (ramfs)', () => {
    let mnt: string | undefined

    before(function () {
      if (process.platform !== 'linux' || process.getuid?.() !== 0) this.skip()
    })

    beforeEach(async function () {
      mnt = path.join(tmp.dir, 'ramfs')
      await fs.mkdir(mnt)
      try {
        execFileSync('mount', ['-t', 'ramfs', 'ramfs', mnt], { stdio: 'ignore' })
      } catch {
        mnt = undefined
        if (process.env.SHOAL_LAB_REQUIRED === '1') throw new Error('cannot mount a ramfs as root')
        this.skip()
      }
    })

    afterEach(() => {
      if (mnt != null) execFileSync('umount', [mnt], { stdio: 'ignore' })
    })

    it('falls back to the page cache, stores every block intact and leaves nothing in .tmp', async () => {
      const blocks = new FsBlocks(path.join(mnt!, 'blocks'), { maxBlockSize: MAX, fsync: true })
      await blocks.open()
      const first = await alignedBlock(300_001)
      await blocks.put(first.cid, [first.buf])
      assert.equal(blocks.directWrites, false)
      const second = await alignedBlock(1024 * 1024)
      await blocks.put(second.cid, [second.buf])
      assert.deepEqual(await blocks.getBytes(first.cid), first.bytes)
      assert.deepEqual(await blocks.getBytes(second.cid), second.bytes)
      assert.equal((await fs.stat(blocks.pathOf(first.cid))).size, 300_001)
      assert.deepEqual(await fs.readdir(path.join(mnt!, 'blocks', '.tmp')), [])
    })
  })

  describe('the block I/O thread', () => {
    after(async () => {
      await stopIoThread()
    })

    it('hashes a block in shared memory as createHash does, and verifies() says whether it matches', async () => {
      const { cid, bytes, buf } = await alignedBlock(1024 * 1024 + 17)
      assert.ok(isShared(buf))
      const thread = ioThread()
      assert.ok(thread != null)
      assert.deepEqual(Buffer.from(await thread.sha256(buf)), createHash('sha256').update(bytes).digest())
      assert.equal(await verifies(cid, [buf]), true)
      buf[5] ^= 1
      assert.equal(await verifies(cid, [buf]), false)
      assert.equal(await verifies(cid, buf.subarray(1)), false)
    })

    it('writes blocks several at a time: each one stored intact, whatever order they finish in', async function () {
      const blocks = new FsBlocks(tmp.dir, { maxBlockSize: MAX, fsync: true })
      await blocks.open()
      const many = await Promise.all(Array.from({ length: 12 }, async (_, i) => await alignedBlock(256 * 1024 + i * 4099)))
      // one of them bad: refused without disturbing the others
      many[5].buf[7] ^= 1
      const stored = await Promise.all(many.map(async b => await blocks.putVerified(b.cid, [b.buf])))
      if (blocks.directWrites !== true) this.skip()
      assert.deepEqual(stored, many.map((_, i) => i !== 5))
      for (const [i, b] of many.entries()) {
        if (i === 5) assert.equal(await blocks.has(b.cid), false)
        else assert.deepEqual(await blocks.getBytes(b.cid), b.bytes)
      }
      assert.deepEqual(await tmpEntries(tmp.dir), [])
    })

    it('serves a whole block read on the thread; a missing block and one over the limit are refused by name', async () => {
      const blocks = new FsBlocks(tmp.dir, { maxBlockSize: MAX, fsync: false })
      await blocks.open()
      const { cid, bytes } = await alignedBlock(MAX)
      await blocks.put(cid, bytes)
      const served = await blocks.serveBytes(cid)
      assert.deepEqual(Buffer.from(served), bytes)
      assert.ok(!isShared(served), 'the served bytes are the caller\'s own, not shared memory')
      const missing = await alignedBlock(10)
      await assert.rejects(blocks.serveBytes(missing.cid), { name: 'BlockNotFoundError' })
      // a block file grown past the limit by hand is refused before it is read
      await fs.appendFile(blocks.pathOf(cid), Buffer.alloc(1))
      await assert.rejects(blocks.serveBytes(cid), { name: 'BlockTooLargeError' })
    })

    it('serves a block into shared memory the caller gives when it fits, into memory of its own when not', async () => {
      const blocks = new FsBlocks(tmp.dir, { maxBlockSize: MAX, fsync: false })
      await blocks.open()
      const small = await alignedBlock(5000)
      const large = await alignedBlock(9000)
      await blocks.put(small.cid, small.bytes)
      await blocks.put(large.cid, large.bytes)
      const into = new Uint8Array(new SharedArrayBuffer(8192))
      const served = await blocks.serveBytes(small.cid, { into })
      assert.equal(served.buffer, into.buffer, 'not read into the memory given')
      assert.deepEqual(Buffer.from(served), small.bytes)
      // a block larger than the memory given is read whole into memory of its own
      const other = await blocks.serveBytes(large.cid, { into })
      assert.notEqual(other.buffer, into.buffer)
      assert.deepEqual(Buffer.from(other), large.bytes)
      assert.deepEqual(Buffer.from(into.subarray(0, 5000)), small.bytes, 'the memory given was written to for a block that did not fit')
      const missing = await alignedBlock(10)
      await assert.rejects(blocks.serveBytes(missing.cid, { into }), { name: 'BlockNotFoundError' })
    })

    it('stops once idle, and the next job starts a new thread', async () => {
      setIoThreadIdleStop(200)
      try {
        const { bytes, buf } = await alignedBlock(100_000)
        const first = ioThread()!
        await first.sha256(buf)
        // busy within the idle time: still the same thread
        await new Promise(resolve => setTimeout(resolve, 100))
        assert.equal(ioThread(), first)
        await first.sha256(buf)
        await new Promise(resolve => setTimeout(resolve, 600))
        const second = ioThread()!
        assert.notEqual(second, first)
        await assert.rejects(first.sha256(buf), (err: any) => err.code === IO_THREAD_FAILED)
        assert.deepEqual(Buffer.from(await second.sha256(buf)), createHash('sha256').update(bytes).digest())
      } finally {
        setIoThreadIdleStop(IO_THREAD_IDLE_STOP)
      }
    })

    it('takes views into shared memory only', async () => {
      await assert.rejects(ioThread()!.sha256(new Uint8Array(10)), /shared memory only/)
    })

    it('stopped with jobs in hand: they fail with IO_THREAD_FAILED, puts still store their blocks, and a new thread starts', async () => {
      const blocks = new FsBlocks(tmp.dir, { maxBlockSize: MAX, fsync: true })
      await blocks.open()
      const pending = await Promise.all([alignedBlock(MAX), alignedBlock(MAX), alignedBlock(300_000)])
      const hashing = ioThread()!.sha256(pending[0].buf)
      const puts = pending.map(async b => await blocks.put(b.cid, [b.buf]))
      await stopIoThread()
      // the hash either finished before the stop or failed with the thread's code
      await hashing.then(d => { assert.deepEqual(Buffer.from(d), createHash('sha256').update(pending[0].bytes).digest()) },
        (err: any) => { assert.equal(err.code, IO_THREAD_FAILED) })
      await Promise.all(puts)
      for (const b of pending) assert.deepEqual(await blocks.getBytes(b.cid), b.bytes)
      assert.deepEqual(await tmpEntries(tmp.dir), [])
      const again = await alignedBlock(200_000)
      assert.ok(ioThread() != null)
      assert.equal(await verifies(again.cid, [again.buf]), true)
    })
  })
})
