/**
 * File layouts (where a file's bytes are, kept per content path), ranges read by them across leaf
 * boundaries, and the buffers ranges are read into; in process, over blocks held in memory.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { PullThrough } from '../../src/content/pull-through.js'
import { ReadBuffers } from '../../src/gateway/buffers.js'
import { FileLayouts, leafAt, leavesOf } from '../../src/gateway/layout.js'
import { readLeaves } from '../../src/gateway/ranged.js'
import type { FileLayout, Leaf } from '../../src/gateway/layout.js'

const CHUNK = 1000

/** A file imported in leaves of 1000 bytes, at most 4 links a node (so three levels for 10 kB) */
async function imported (bytes: Uint8Array, rawLeaves: boolean): Promise<{ root: CID, blocks: Map<string, Uint8Array> }> {
  const blocks = new Map<string, Uint8Array>()
  const sink = { put: async (cid: CID, b: Uint8Array) => { blocks.set(cid.toString(), b); return cid } }
  let root: CID | undefined
  for await (const r of importer([{ content: bytes }], sink, {
    chunker: fixedSize({ chunkSize: CHUNK }),
    layout: balanced({ maxChildrenPerNode: 4 }),
    rawLeaves,
    cidVersion: 1
  })) root = r.cid
  assert.ok(root != null)
  return { root, blocks }
}

/** A request's blocks over a map, reading ranges through `buffers` */
function requestBlocks (blocks: Map<string, Uint8Array>, buffers?: ReadBuffers): PullThrough {
  const getBytes = async (cid: CID): Promise<Uint8Array> => {
    const b = blocks.get(cid.toString())
    if (b == null) throw Object.assign(new Error(`no ${cid}`), { name: 'BlockNotFoundError' })
    return b
  }
  return new PullThrough({
    blocks: {
      getBytes,
      readRange: async (cid, offset, length, options) => {
        const part = (await getBytes(cid)).subarray(offset, offset + length)
        if (options?.into == null) return part
        options.into.set(part)
        return options.into.subarray(0, part.byteLength)
      }
    }
  }, { root: CID.parse('bafkqaaa'), mode: 'block', timeoutMs: 1000, signal: new AbortController().signal, ...(buffers != null ? { buffers } : {}) })
}

/** A range as a response would send it: each piece copied out, then its buffer given back */
async function range (blocks: PullThrough, leaves: Leaf[], offset: number, length: number): Promise<Buffer> {
  const out: Buffer[] = []
  for await (const piece of readLeaves(blocks, leaves, offset, length)) {
    out.push(Buffer.from(piece))
    blocks.buffers?.give(piece)
  }
  return Buffer.concat(out)
}

function layout (leaves: number): FileLayout {
  return { cid: CID.parse('bafkqaaa'), size: leaves, leaves: Array.from({ length: leaves }, (_v, i) => ({ offset: i, size: 1, bytes: new Uint8Array(1) })) }
}

describe('gateway: file layouts', () => {
  const bytes = randomBytes(10 * CHUNK + 123)

  for (const rawLeaves of [true, false]) {
    describe(rawLeaves ? 'raw leaves' : 'dag-pb leaves', () => {
      let root: CID
      let blocks: Map<string, Uint8Array>
      let leaves: Leaf[]

      before(async () => {
        ({ root, blocks } = await imported(bytes, rawLeaves))
        const got = await leavesOf(async (cid) => blocks.get(cid.toString()) as Uint8Array, root, bytes.byteLength, 100)
        assert.ok(got != null)
        leaves = got
      })

      it('lists every leaf in file order, with its offset and size', () => {
        assert.equal(leaves.length, 11)
        assert.deepEqual(leaves.map(l => l.offset), Array.from({ length: 11 }, (_v, i) => i * CHUNK))
        assert.deepEqual(leaves.map(l => l.size), [...Array(10).fill(CHUNK), 123])
        assert.ok(leaves.every(l => l.cid != null && l.cid.code === (rawLeaves ? 0x55 : dagPb.code)))
        assert.equal(leafAt(leaves, 0), 0)
        assert.equal(leafAt(leaves, 999), 0)
        assert.equal(leafAt(leaves, 1000), 1)
        assert.equal(leafAt(leaves, bytes.byteLength - 1), 10)
      })

      it('keeps no leaves of a file that has more than the limit', async () => {
        const got = await leavesOf(async (cid) => blocks.get(cid.toString()) as Uint8Array, root, bytes.byteLength, 10)
        assert.equal(got, undefined)
      })

      it('reads ranges within a leaf, across leaf boundaries and over the whole file, in pieces of pooled buffers', async () => {
        // pieces of 300 bytes: a leaf is read in several, and buffers are reused between them
        const buffers = new ReadBuffers(300, 4)
        const reader = requestBlocks(blocks, buffers)
        const cases: Array<[number, number]> = [
          [0, 1], [0, bytes.byteLength], [999, 2], [500, 1000], [999, 1002], [1500, 5000],
          [bytes.byteLength - 123, 123], [bytes.byteLength - 124, 124], [bytes.byteLength - 1, 1], [3000, 1000]
        ]
        for (let i = 0; i < 40; i++) {
          const length = 1 + Math.floor(Math.random() * 3000)
          cases.push([Math.floor(Math.random() * (bytes.byteLength - length + 1)), length])
        }
        for (const [offset, length] of cases) {
          assert.deepEqual(await range(reader, leaves, offset, length), bytes.subarray(offset, offset + length), `${length} bytes at ${offset}`)
        }
        if (rawLeaves) assert.ok(buffers.idle > 0 && buffers.idle <= 4, `buffers came back, at most the kept number (${buffers.idle})`)
      })

      it('a range past the end of the file stops at the end', async () => {
        const reader = requestBlocks(blocks)
        assert.deepEqual(await range(reader, leaves, bytes.byteLength - 10, 100), bytes.subarray(bytes.byteLength - 10))
        assert.equal((await range(reader, leaves, bytes.byteLength, 10)).byteLength, 0)
      })
    })
  }

  it('a node\'s own data comes before its children\'s', async () => {
    const leaves = [{ offset: 0, size: 3, bytes: Buffer.from('abc') }, { offset: 3, size: 2, bytes: Buffer.from('de') }]
    assert.equal((await range(requestBlocks(new Map()), leaves, 2, 2)).toString(), 'cd')
  })

  describe('the cache', () => {
    it('resolves a path once for requests that ask at the same time, and keeps it', async () => {
      const layouts = new FileLayouts(1024 * 1024)
      let calls = 0
      let finish: (l: FileLayout) => void = () => {}
      const resolve = async (): Promise<FileLayout> => {
        calls++
        return new Promise(resolve => { finish = resolve })
      }
      const signal = new AbortController().signal
      const waiting = Array.from({ length: 5 }, async () => layouts.resolve('/ipfs/x', signal, resolve))
      await new Promise(resolve => setTimeout(resolve, 10))
      const l = layout(3)
      finish(l)
      const got = await Promise.all(waiting)
      assert.equal(calls, 1)
      assert.ok(got.every(g => g === l))
      assert.equal(await layouts.resolve('/ipfs/x', signal, resolve), l)
      assert.equal(calls, 1)
      assert.equal(layouts.get('/ipfs/x'), l)
    })

    it('when the resolving request goes away, a waiting one resolves the path itself', async () => {
      const layouts = new FileLayouts(1024 * 1024)
      const first = new AbortController()
      let calls = 0
      const resolving = layouts.resolve('/ipfs/y', first.signal, async () => {
        calls++
        return new Promise<FileLayout>((_resolve, reject) => {
          first.signal.addEventListener('abort', () => { reject(first.signal.reason) }, { once: true })
        })
      })
      const l = layout(2)
      const waiter = layouts.resolve('/ipfs/y', new AbortController().signal, async () => { calls++; return l })
      first.abort(new Error('the client went away'))
      await assert.rejects(resolving, /went away/)
      assert.equal(await waiter, l)
      assert.equal(calls, 2)
    })

    it('a path that does not resolve fails every request waiting on it, with one resolution', async () => {
      const layouts = new FileLayouts(1024 * 1024)
      let calls = 0
      const resolve = async (): Promise<FileLayout> => {
        calls++
        await new Promise(resolve => setTimeout(resolve, 10))
        throw Object.assign(new Error('no link named by /ipfs/z/a'), { name: 'PathNotFoundError' })
      }
      const signal = new AbortController().signal
      const all = await Promise.allSettled([layouts.resolve('/ipfs/z/a', signal, resolve), layouts.resolve('/ipfs/z/a', signal, resolve)])
      assert.deepEqual(all.map(r => r.status === 'rejected' ? r.reason.name : 'fulfilled'), ['PathNotFoundError', 'PathNotFoundError'])
      assert.equal(calls, 1)
      assert.equal(layouts.get('/ipfs/z/a'), undefined)
    })

    it('keeps nothing for a path that is not a plain file', async () => {
      const layouts = new FileLayouts(1024 * 1024)
      let calls = 0
      const signal = new AbortController().signal
      assert.equal(await layouts.resolve('/ipfs/dir', signal, async () => { calls++; return undefined }), undefined)
      assert.equal(await layouts.resolve('/ipfs/dir', signal, async () => { calls++; return undefined }), undefined)
      assert.equal(calls, 2)
      assert.equal(layouts.stats.layouts, 0)
    })

    it('stays within its memory, dropping the least recently used first, and keeps no layout too large for it', () => {
      const max = 64 * 1024
      const layouts = new FileLayouts(max)
      // a layout may take an eighth of the cache, at 256 bytes a leaf
      assert.equal(layouts.maxLeaves, Math.floor((max / 8 - 1024) / 256))
      layouts.add('/ipfs/huge', layout(layouts.maxLeaves + 10))
      assert.equal(layouts.get('/ipfs/huge'), undefined)
      for (let i = 0; i < 40; i++) {
        layouts.add(`/ipfs/f${i}`, layout(20))
        // the first stays the most recently used
        assert.ok(layouts.get('/ipfs/f0') != null, `f0 kept after f${i}`)
        assert.ok(layouts.stats.bytes <= max, `${layouts.stats.bytes} bytes after f${i}`)
      }
      assert.ok(layouts.stats.layouts < 40, 'some were dropped')
      assert.equal(layouts.get('/ipfs/f1'), undefined, 'the least recently used went first')
      assert.ok(layouts.get('/ipfs/f39') != null)
    })
  })
})

describe('gateway: reading a raw leaf ahead', () => {
  it('reads the next piece while the socket takes this one, and gives a piece read ahead back when the response ends early', async () => {
    const bytes = randomBytes(1000)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    const buffers = new ReadBuffers(300, 8)
    const reader = requestBlocks(new Map([[cid.toString(), bytes]]), buffers)
    const reads: number[] = []
    const readRange = reader.readRange.bind(reader)
    reader.readRange = async (c, offset, length, options) => {
      reads.push(offset)
      return await readRange(c, offset, length, options)
    }
    const leaves: Leaf[] = [{ offset: 0, size: bytes.byteLength, cid }]
    const it = readLeaves(reader, leaves, 0, bytes.byteLength)[Symbol.asyncIterator]()
    const first = await it.next()
    assert.ok(first.done !== true)
    assert.deepEqual(Buffer.from(first.value), bytes.subarray(0, 300))
    // what could fail: a reader that waits for this piece's slices to be taken before the next read
    assert.deepEqual(reads, [0, 300], 'the second piece is being read while the first is written')
    buffers.give(first.value)
    assert.equal(buffers.idle, 1, 'the first piece\'s buffer came back')
    await it.return(undefined)
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(buffers.idle, 2, 'the piece read ahead came back though nobody took it')
    assert.deepEqual(reads, [0, 300], 'nothing is read after the response ended')
  })
})

describe('gateway: read buffers', () => {
  it('takes a buffer back whole or by the last slice of a piece, ignores other views and memory, and keeps at most its number', () => {
    const buffers = new ReadBuffers(1024, 2)
    const a = buffers.take()
    assert.equal(a.byteLength, 1024)
    const slices = buffers.slices(a.subarray(0, 1000), 300)
    assert.deepEqual(slices.map(s => s.byteLength), [300, 300, 300, 100])
    assert.ok(slices.every(s => s.buffer === a.buffer))
    // the earlier slices may still be in the socket's hands until the last is written
    buffers.give(slices[0])
    buffers.give(a.subarray(10, 20))
    assert.equal(buffers.idle, 0)
    buffers.give(slices[3])
    assert.equal(buffers.idle, 1)
    buffers.give(a)
    assert.equal(buffers.idle, 1, 'a buffer given twice is kept once')
    assert.equal(buffers.take(), a)
    buffers.give(Buffer.alloc(1024))
    assert.equal(buffers.idle, 0, 'a buffer not of the pool is not kept')
    const taken = [buffers.take(), buffers.take(), buffers.take()]
    for (const b of taken) buffers.give(b)
    assert.equal(buffers.idle, 2)
  })
})
