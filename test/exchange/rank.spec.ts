import assert from 'node:assert/strict'
import { HaveResult, Response } from '../../src/exchange/message.js'
import { LOAD_STEP, rankPeers } from '../../src/exchange/rank.js'

describe('exchange: ranking a session\'s peers', () => {
  it('gives work to the least loaded peer first, then to the widest window, then in join order', () => {
    const peers = [
      { id: 'a', load: 3 * LOAD_STEP, window: 8 },
      { id: 'b', load: 0, window: 4 },
      { id: 'c', load: LOAD_STEP, window: 2 },
      { id: 'd', load: 0, window: 6 },
      { id: 'e', load: LOAD_STEP, window: 2 }
    ]
    assert.deepEqual(rankPeers(peers).map(p => p.id), ['d', 'b', 'c', 'e', 'a'])
    // the session's own list is left as it was
    assert.deepEqual(peers.map(p => p.id), ['a', 'b', 'c', 'd', 'e'])
  })

  it('counts loads within one step as equal: the peer that joined first (the nearer) goes first', () => {
    const peers = [{ id: 'near', load: LOAD_STEP - 1, window: 4 }, { id: 'far', load: 0, window: 4 }, { id: 'busy', load: LOAD_STEP, window: 16 }]
    assert.deepEqual(rankPeers(peers).map(p => p.id), ['near', 'far', 'busy'])
  })

  it('ranks a peer that reported no load (named, or an older peer) as unloaded', () => {
    const peers = [{ id: 'busy', load: LOAD_STEP, window: 4 }, { id: 'old', window: 4 }, { id: 'idle', load: 0, window: 4 }]
    assert.deepEqual(rankPeers(peers).map(p => p.id), ['old', 'idle', 'busy'])
  })

  it('without loads, orders by window alone, as sessions did before loads were reported', () => {
    const peers = [{ id: 'x', window: 2 }, { id: 'y', window: 9 }, { id: 'z', window: 2 }]
    assert.deepEqual(rankPeers(peers).map(p => p.id), ['y', 'x', 'z'])
  })
})

describe('exchange: the load in a have answer', () => {
  it('round-trips, and an answer without it (an older peer) decodes with no load', () => {
    assert.deepEqual(HaveResult.decode(HaveResult.encode({ have: [true, false], load: 7 })), { have: [true, false], load: 7 })
    const old = HaveResult.decode(HaveResult.encode({ have: [true] }))
    assert.equal(old.load, undefined)
    // an older peer reading a new answer skips the field it does not know: the have list is what it was
    const withLoad = Response.encode({ id: 3, have: { have: [true], load: 2 } })
    const without = Response.encode({ id: 3, have: { have: [true] } })
    assert.ok(withLoad.byteLength > without.byteLength)
    assert.deepEqual(Response.decode(withLoad).have?.have, [true])
  })
})
