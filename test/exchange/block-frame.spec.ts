import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { MAX_BLOCK_HEAD, blockResponseHead, parseBlockResponseHead } from '../../src/exchange/block-frame.js'
import { Response } from '../../src/exchange/message.js'
import * as lp from 'it-length-prefixed'

describe('exchange: hand-encoded block responses', () => {
  for (const [id, size] of [[0, 0], [1, 1], [127, 300], [128, 16384], [300_000, 1024 * 1024], [2 ** 32 - 1, 2 * 1024 * 1024]]) {
    it(`match Response.encode byte for byte (id ${id}, ${size} bytes)`, () => {
      const data = randomBytes(size)
      const message = Response.encode({ id, block: { data } })
      const expected = lp.encode.single(message).subarray()
      const actual = Buffer.concat([blockResponseHead(id, size), data])
      assert.ok(actual.equals(expected))
      // and it decodes back: the message is what follows the length prefix
      const decoded = Response.decode(actual.subarray(actual.byteLength - message.byteLength))
      assert.equal(decoded.id, id)
      assert.ok(Buffer.from(decoded.block?.data ?? []).equals(data))
      // and the client's head parser finds the data where the decoder does (an empty block is
      // left to the decoder)
      const parsed = parseBlockResponseHead(message.subarray(0, MAX_BLOCK_HEAD), message.byteLength)
      if (size === 0) assert.equal(parsed, undefined)
      else assert.deepEqual(parsed, { id, dataOffset: message.byteLength - size })
    })
  }
})
