/**
 * Fetch progress over the control API: block events sampled, the latest kept, nothing reordered,
 * the last block event always sent.
 */
import assert from 'node:assert/strict'
import { sampledProgress } from '../../src/api/sampled.js'
import type { FetchProgressEvent } from '../../src/exchange/index.js'

const block = (blocks: number): FetchProgressEvent => ({ type: 'fetch:block', blocks, bytes: blocks, fetchedBytes: blocks, peers: 1, rate: 1 })

describe('api: sampled fetch progress', function () {
  it('sends the first block event at once, holds later ones within the interval, keeps the latest', () => {
    const sent: FetchProgressEvent[] = []
    const progress = sampledProgress(e => sent.push(e), 60_000)
    for (let i = 1; i <= 500; i++) progress.push(block(i))
    assert.deepEqual(sent.map(e => e.type === 'fetch:block' ? e.blocks : -1), [1])
    progress.flush()
    assert.deepEqual(sent.map(e => e.type === 'fetch:block' ? e.blocks : -1), [1, 500])
    progress.flush()
    assert.equal(sent.length, 2, 'nothing held, nothing sent')
  })

  it('another event goes out at once, after the block event it would overtake', () => {
    const sent: FetchProgressEvent[] = []
    const progress = sampledProgress(e => sent.push(e), 60_000)
    progress.push(block(1))
    progress.push(block(2))
    progress.push({ type: 'fetch:peer', peerId: 'p', protocol: 'shoal', joined: false, peers: 0 })
    progress.push(block(3))
    progress.push({ type: 'fetch:done', blocks: 3, bytes: 3, fetchedBytes: 3 } as FetchProgressEvent)
    assert.deepEqual(sent.map(e => e.type === 'fetch:block' ? `block ${e.blocks}` : e.type), ['block 1', 'block 2', 'fetch:peer', 'block 3', 'fetch:done'])
  })

  it('a held block event goes out by itself once the interval has passed', async () => {
    const sent: FetchProgressEvent[] = []
    const progress = sampledProgress(e => sent.push(e), 30)
    progress.push(block(1))
    progress.push(block(2))
    assert.equal(sent.length, 1)
    await new Promise(resolve => setTimeout(resolve, 80))
    assert.deepEqual(sent.map(e => e.type === 'fetch:block' ? e.blocks : -1), [1, 2])
  })

  it('close sends the held event and drops whatever comes after', async () => {
    const sent: FetchProgressEvent[] = []
    const progress = sampledProgress(e => sent.push(e), 30)
    progress.push(block(1))
    progress.push(block(2))
    progress.close()
    progress.push(block(3))
    progress.push({ type: 'fetch:peer', peerId: 'p', protocol: 'shoal', joined: false, peers: 0 })
    await new Promise(resolve => setTimeout(resolve, 80))
    assert.deepEqual(sent.map(e => e.type === 'fetch:block' ? e.blocks : -1), [1, 2])
  })
})
