/**
 * The collection after bulk transfers: once transfers of at least the threshold in all have
 * ended, and transfers ending close together are followed by one collection, after the delay.
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

  it('counts a transfer told of in parts, and starts counting again after each collection', async () => {
    let runs = 0
    const c = transferCollector(() => { runs++ }, 1000, 50)
    c.ended(400)
    c.ended(400)
    await sleep(120)
    assert.equal(runs, 0, 'parts below the threshold in all are not followed by a collection')
    c.ended(300)
    await sleep(120)
    assert.equal(runs, 1, 'the parts reached the threshold')
    c.ended(900)
    await sleep(120)
    assert.equal(runs, 1, 'what came before the collection does not count again')
    c.ended(-5)
    c.ended(100)
    await sleep(120)
    assert.equal(runs, 2)
  })
})
