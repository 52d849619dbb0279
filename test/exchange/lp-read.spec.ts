/**
 * The length-prefixed read loop of the shoal and bitswap servers: every message until the peer
 * closes its end; a stream reset under it is an error, not an end.
 */
import assert from 'node:assert/strict'
import { lpStream, streamPair } from '@libp2p/utils'
import { aborted, lpMessages } from '../../src/exchange/lp-read.js'
import { lengthPrefixed } from '../../src/exchange/send.js'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('exchange: length-prefixed reads', () => {
  it('yields each message, then ends when the peer closes its end', async () => {
    const [outbound, inbound] = await streamPair()
    outbound.send(lengthPrefixed(text('one')))
    outbound.send(lengthPrefixed(text('two')))
    await outbound.close()
    const got: string[] = []
    for await (const m of lpMessages(lpStream(inbound), inbound)) got.push(new TextDecoder().decode(m.subarray()))
    assert.deepEqual(got, ['one', 'two'])
    assert.equal(aborted(inbound), false)
  })

  for (const [who, end] of [['the peer resets it', 'outbound'], ['it is aborted here (as libp2p does when too much arrives unread)', 'inbound']] as const) {
    it(`throws when ${who}, after the messages that came before`, async () => {
      const pair = await streamPair()
      const [outbound, inbound] = pair
      outbound.send(lengthPrefixed(text('one')))
      const got: string[] = []
      const reading = (async () => {
        for await (const m of lpMessages(lpStream(inbound), inbound)) {
          got.push(new TextDecoder().decode(m.subarray()))
          ;(end === 'outbound' ? outbound : inbound).abort(new Error('gone'))
        }
      })()
      await assert.rejects(reading)
      assert.deepEqual(got, ['one'])
      assert.equal(aborted(inbound), true)
    })
  }
})
