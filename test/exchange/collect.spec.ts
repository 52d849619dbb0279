/**
 * The collection after bulk transfers: only transfers of at least the threshold count, and
 * transfers ending close together are followed by one collection, after the delay.
 */
import assert from 'node:assert/strict'
import { transferCollector } from '../../src/exchange/collect.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('exchange: collection after bulk transfers', () => {
  it('collects once after transfers of at least the threshold end, and not after small ones', async () => {
    let runs = 0
    const c = transferCollector(() => { runs++ }, 1000, 50)
    c.ended(999)
    c.ended(Number.NaN)
    await sleep(120)
    assert.equal(runs, 0, 'small transfers are not followed by a collection')
    c.ended(1000)
    await sleep(10)
    c.ended(5000)
    assert.equal(runs, 0, 'nothing runs before the delay')
    await sleep(120)
    assert.equal(runs, 1, 'transfers ending close together are followed by one collection')
    c.ended(2000)
    await sleep(120)
    assert.equal(runs, 2)
  })
})
