import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { blockResponseHead, parseBlockResponseHead } from '../../src/exchange/block-frame.js'
import { No, Response } from '../../src/exchange/message.js'
import { ResponseReader, copyBlock } from '../../src/exchange/response-reader.js'
import { lengthPrefixed } from '../../src/exchange/send.js'

const MiB = 1024 * 1024

/** Cut bytes into chunks of the given sizes (the last takes the rest) */
function cut (bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = []
  let o = 0
  for (const s of sizes) {
    if (o >= bytes.byteLength) break
    out.push(bytes.subarray(o, Math.min(o + s, bytes.byteLength)))
    o += s
  }
  if (o < bytes.byteLength) out.push(bytes.subarray(o))
  return out
}

describe('exchange: response reader', () => {
  it('reads block responses split anywhere', () => {
    const blocks = [randomBytes(MiB), randomBytes(1), randomBytes(70_000)]
    const wire = Buffer.concat(blocks.flatMap((data, i) => [blockResponseHead(i + 1, data.byteLength), data]))
    // cut after 1 byte, inside the head, at frame-like sizes, and not at all
    for (const sizes of [[1], [2, 3, 5], [65_536, 65_536, 65_536], [7, 65_519, 11, 1_000_000, 3], [wire.byteLength]]) {
      const reader = new ResponseReader(4 * MiB)
      const got = []
      const chunks = cut(wire, sizes)
      for (const c of chunks) got.push(...reader.push(new Uint8ArrayList(c)))
      assert.equal(got.length, blocks.length)
      got.forEach((res, i) => {
        assert.equal(res.id, i + 1)
        assert.ok(res.block != null)
        assert.equal(res.block.byteLength, blocks[i].byteLength)
        assert.ok(Buffer.from(copyBlock(res.block)).equals(blocks[i]))
        res.block.release()
      })
      assert.equal(reader.midMessage, false)
    }
  })

  it('decodes other responses with the generated decoder', () => {
    const messages: Response[] = [
      { id: 7, no: { reason: No.Reason.BUSY, message: 'busy' } },
      { id: 8, have: { have: [true, false, true] } },
      { id: 9, block: { data: new Uint8Array(0) } },
      { id: 0 }
    ]
    const wire = Buffer.concat(messages.map(m => lengthPrefixed(Response.encode(m))))
    const reader = new ResponseReader(4 * MiB)
    const got = cut(wire, [3, 3, 3, 3, 3, 3, 3]).flatMap(c => reader.push(c))
    assert.equal(got.length, messages.length)
    assert.equal(got[0].no?.reason, No.Reason.BUSY)
    assert.deepEqual(got[1].have?.have, [true, false, true])
    assert.equal(got[2].block?.byteLength, 0)
    assert.equal(got[3].id, 0)
  })

  it('a length over the limit throws before the message is read', () => {
    const reader = new ResponseReader(4 * MiB)
    assert.throws(() => reader.push(varint.encode(4 * MiB + 1)), { name: 'InvalidMessageError' })
    const long = new ResponseReader(4 * MiB)
    assert.throws(() => long.push(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x01])), { name: 'InvalidMessageError' })
  })

  it('a message cut short is reported as mid-message', () => {
    const reader = new ResponseReader(4 * MiB)
    const wire = Buffer.concat([blockResponseHead(3, 100), randomBytes(50)])
    assert.deepEqual(reader.push(wire), [])
    assert.equal(reader.midMessage, true)
  })

  it('the head parser takes only the exact shape Response.encode gives a block', () => {
    const data = randomBytes(300)
    const canonical = Response.encode({ id: 5, block: { data } })
    assert.deepEqual(parseBlockResponseHead(canonical.subarray(0, 18), canonical.byteLength), { id: 5, dataOffset: canonical.byteLength - 300 })
    // id 0 is left out by the encoder
    const zero = Response.encode({ id: 0, block: { data } })
    assert.deepEqual(parseBlockResponseHead(zero.subarray(0, 18), zero.byteLength), { id: 0, dataOffset: zero.byteLength - 300 })
    // a trailing field, a different field, a wrong length: left to the decoder
    const trailing = Buffer.concat([canonical, Uint8Array.from([0x08, 0x01])])
    assert.equal(parseBlockResponseHead(trailing.subarray(0, 18), trailing.byteLength), undefined)
    const no = Response.encode({ id: 5, no: { reason: No.Reason.NOT_FOUND, message: 'x' } })
    assert.equal(parseBlockResponseHead(no.subarray(0, 18), no.byteLength), undefined)
    assert.equal(parseBlockResponseHead(canonical.subarray(0, 18), canonical.byteLength + 1), undefined)
  })

  it('a released block buffer is reused once, and never while a block still holds it', () => {
    const reader = new ResponseReader(4 * MiB)
    const data = randomBytes(MiB)
    const one = (id: number): Uint8Array[] => {
      const [res] = reader.push(Buffer.concat([blockResponseHead(id, data.byteLength), data]))
      assert.ok(res.block != null)
      return res.block.chunks
    }
    const [first] = reader.push(Buffer.concat([blockResponseHead(1, data.byteLength), data]))
    assert.ok(first.block != null)
    const held = one(2)
    assert.notEqual(held[0].buffer, first.block.chunks[0].buffer, 'two live blocks never share a buffer')
    first.block.release()
    first.block.release() // a second release must not hand the buffer out twice
    const a = one(3)
    const b = one(4)
    assert.ok(a[0].buffer === first.block.chunks[0].buffer || b[0].buffer === first.block.chunks[0].buffer, 'the released buffer is reused')
    assert.notEqual(a[0].buffer, b[0].buffer)
    assert.ok(Buffer.from(held[0]).equals(data))
  })
})
