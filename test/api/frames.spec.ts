/**
 * The control API's frame stream: entries and bytes out and back, truncation, ERROR frames and
 * length limits.
 */
import assert from 'node:assert/strict'
import * as varint from 'uint8-varint'
import { decodeBytes, decodeEntries, encodeBytes, encodeEntries } from '../../src/api/frames.js'
import { BlockNotFoundError } from '../../src/errors.js'
import type { Entry } from '../../src/api/frames.js'
import { bytesOf } from '../helpers/bytes.js'
import { rejectsNamed } from '../helpers/assert.js'

const MiB = 1024 * 1024

async function * chunked (bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < bytes.byteLength; off += size) yield bytes.subarray(off, off + size)
}

async function * from<T> (items: T[]): AsyncGenerator<T> {
  yield * items
}

async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const c of source) chunks.push(c)
  return Buffer.concat(chunks)
}

interface Decoded { path: string, kind: string, size?: number, target?: string, content?: Buffer }

/** Every entry with its content read in full */
async function readTree (source: AsyncIterable<Uint8Array>): Promise<Decoded[]> {
  const out: Decoded[] = []
  for await (const entry of decodeEntries(source)) {
    const d: Decoded = { path: entry.path, kind: entry.kind }
    if (entry.size != null) d.size = entry.size
    if (entry.target != null) d.target = entry.target
    if (entry.content != null) d.content = await collect(entry.content)
    out.push(d)
  }
  return out
}

const big = bytesOf('big', 3 * MiB + 17)
const small = new TextEncoder().encode('hello\n')

/** A tree with a directory, an empty file, a small file, a 3 MiB file in 1.5 MiB chunks and a symlink */
function tree (): Entry[] {
  return [
    { path: 'top', kind: 'directory' },
    { path: 'top/empty', kind: 'file', size: 0, content: from([]) },
    { path: 'top/empty-chunk', kind: 'file', size: 0, content: from([new Uint8Array(0)]) },
    { path: 'top/hello.txt', kind: 'file', size: small.byteLength, content: from([small]) },
    { path: 'top/big.bin', kind: 'file', size: big.byteLength, content: chunked(big, 1.5 * MiB) },
    { path: 'top/link', kind: 'symlink', target: 'hello.txt' },
    { path: 'top/last.txt', kind: 'file', size: 4, content: from([new TextEncoder().encode('last')]) }
  ]
}

const expected: Decoded[] = [
  { path: 'top', kind: 'directory' },
  { path: 'top/empty', kind: 'file', size: 0, content: Buffer.alloc(0) },
  { path: 'top/empty-chunk', kind: 'file', size: 0, content: Buffer.alloc(0) },
  { path: 'top/hello.txt', kind: 'file', size: small.byteLength, content: Buffer.from(small) },
  { path: 'top/big.bin', kind: 'file', size: big.byteLength, content: Buffer.from(big) },
  { path: 'top/link', kind: 'symlink', target: 'hello.txt' },
  { path: 'top/last.txt', kind: 'file', size: 4, content: Buffer.from('last') }
]

async function encoded (entries: Entry[]): Promise<Buffer> {
  return collect(encodeEntries(from(entries)))
}

/** Split bytes into small pieces, so frames straddle reads */
async function * dribble (bytes: Uint8Array, size = 7919): AsyncGenerator<Uint8Array> {
  yield * chunked(bytes, size)
}

describe('api: frames', () => {
  describe('entries', () => {
    it('round-trip a tree with a directory, files (empty and multi-chunk) and a symlink', async () => {
      const bytes = await encoded(tree())
      assert.deepEqual(await readTree(from([bytes])), expected)
      assert.deepEqual(await readTree(dribble(bytes)), expected)
    })

    it('split file content into DATA frames of at most 1 MiB, so a 3 MiB file arrives in several chunks', async () => {
      const entries = decodeEntries(from([await encoded(tree())]))
      let sizes: number[] | undefined
      for await (const entry of entries) {
        if (entry.path !== 'top/big.bin') continue
        sizes = []
        for await (const c of entry.content as AsyncIterable<Uint8Array>) sizes.push(c.byteLength)
      }
      assert.ok(sizes != null)
      assert.ok(sizes.length >= 4, `${sizes.length} chunks`)
      assert.ok(sizes.every(s => s <= MiB), sizes.join(','))
      assert.equal(sizes.reduce((a, b) => a + b, 0), big.byteLength)
    })

    it('a consumer that skips a file\'s content still gets the entries after it', async () => {
      const bytes = await encoded(tree())
      const seen: Decoded[] = []
      for await (const entry of decodeEntries(dribble(bytes))) {
        if (entry.path === 'top/last.txt') {
          seen.push({ path: entry.path, kind: entry.kind, content: await collect(entry.content as AsyncIterable<Uint8Array>) })
        } else if (entry.path === 'top/big.bin') {
          // read a little, then stop
          for await (const c of entry.content as AsyncIterable<Uint8Array>) {
            assert.deepEqual(Buffer.from(c), Buffer.from(big.subarray(0, c.byteLength)))
            break
          }
          seen.push({ path: entry.path, kind: entry.kind })
        } else {
          seen.push({ path: entry.path, kind: entry.kind })
        }
      }
      assert.deepEqual(seen.map(e => e.path), expected.map(e => e.path))
      assert.deepEqual(seen.at(-1)?.content, Buffer.from('last'))
    })

    it('a stream cut before END throws, wherever it is cut', async () => {
      const bytes = await encoded(tree())
      // END is the last frame: a one-byte length (1) and its tag
      assert.deepEqual([...bytes.subarray(-2)], [1, 0x03])
      await rejectsNamed(readTree(from([bytes.subarray(0, -2)])), 'InvalidArgumentError', /truncated/)
      // cut inside the big file's data, and inside a frame's length prefix or body
      for (const cut of [1, 100, 2 * MiB, bytes.byteLength - 3]) {
        await rejectsNamed(readTree(dribble(bytes.subarray(0, cut))), 'InvalidArgumentError')
      }
      await rejectsNamed(readTree(from([])), 'InvalidArgumentError', /truncated/)
    })

    it('an ERROR frame between entries surfaces as an error with the sent name', async () => {
      const source = (async function * (): AsyncGenerator<Entry> {
        yield { path: 'top', kind: 'directory' }
        throw new BlockNotFoundError('block bafy... is not in the store')
      })()
      const entries: string[] = []
      const err = await rejectsNamed((async () => {
        for await (const e of decodeEntries(encodeEntries(source))) entries.push(e.path)
      })(), 'BlockNotFoundError', /bafy\.\.\. is not in the store/)
      assert.equal(err.status, 404)
      assert.deepEqual(entries, ['top'])
    })

    it('an ERROR frame inside a file\'s content surfaces from that content', async () => {
      const failing = (async function * () {
        yield small
        throw Object.assign(new Error('disk on fire'), { name: 'DiskError' })
      })()
      const source = from<Entry>([{ path: 'f', kind: 'file', size: 100, content: failing }])
      const it = decodeEntries(encodeEntries(source))
      const first = await it.next()
      assert.equal(first.done, false)
      const entry = first.value as Entry
      await rejectsNamed(collect(entry.content as AsyncIterable<Uint8Array>), 'DiskError', /disk on fire/)
    })

    it('a length prefix above maxFrame throws without waiting for (or allocating) the frame', async () => {
      // a varint claiming 4 GiB, then a tag and a few bytes: were the limit not checked, the
      // reader would wait for 4 GiB and then report truncation instead
      const huge = varint.encode(4 * 1024 * 1024 * 1024)
      const evil = Buffer.concat([huge, Buffer.from([0x02, 1, 2, 3])])
      const err = await rejectsNamed(readTree(from([evil])), 'InvalidArgumentError', /bad frame stream/)
      assert.doesNotMatch(err.message, /truncated/)
      await rejectsNamed(collect(decodeBytes(from([evil]))), 'InvalidArgumentError', /bad frame stream/)
    })

    it('a frame just above a smaller maxFrame is refused and one at the limit is accepted', async () => {
      const bytes = await collect(encodeBytes(from([bytesOf('x', 1000)])))
      // one DATA frame of 1001 bytes (tag + data), then END
      assert.deepEqual(await collect(decodeBytes(from([bytes]), 1001)), Buffer.from(bytesOf('x', 1000)))
      await rejectsNamed(collect(decodeBytes(from([bytes]), 1000)), 'InvalidArgumentError', /bad frame stream/)
    })

    it('rejects a header that is not an entry', async () => {
      const badKind = await encoded([{ path: 'x', kind: 'socket' as any }])
      await rejectsNamed(readTree(from([badKind])), 'InvalidArgumentError', /unknown kind/)
      const noTarget = await encoded([{ path: 'l', kind: 'symlink' }])
      await rejectsNamed(readTree(from([noTarget])), 'InvalidArgumentError', /no target/)
    })
  })

  describe('bytes', () => {
    it('round-trip through encodeBytes and decodeBytes', async () => {
      const content = bytesOf('bytes', 2 * MiB + 5)
      const bytes = await collect(encodeBytes(chunked(content, 700 * 1024)))
      assert.deepEqual(await collect(decodeBytes(dribble(bytes))), Buffer.from(content))
    })

    it('round-trip empty content', async () => {
      const bytes = await collect(encodeBytes(from([new Uint8Array(0)])))
      assert.deepEqual(await collect(decodeBytes(from([bytes]))), Buffer.alloc(0))
    })

    it('a cut stream throws and an error in the source arrives by name', async () => {
      const bytes = await collect(encodeBytes(from([small])))
      await rejectsNamed(collect(decodeBytes(from([bytes.subarray(0, -2)]))), 'InvalidArgumentError', /truncated/)
      const failing = (async function * () {
        yield small
        throw new BlockNotFoundError('gone')
      })()
      const chunks: Uint8Array[] = []
      await rejectsNamed((async () => {
        for await (const c of decodeBytes(encodeBytes(failing))) chunks.push(c)
      })(), 'BlockNotFoundError', /gone/)
      assert.deepEqual(Buffer.concat(chunks), Buffer.from(small))
    })
  })
})
