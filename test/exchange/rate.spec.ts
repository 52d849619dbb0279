/**
 * The token bucket behind the upload and download caps: at most one second of burst, waits that
 * grow with debt, and a bucket of 0 that never limits; and a fetch's gate on it.
 */
import assert from 'node:assert/strict'
import { MiB } from '../../src/constants.js'
import { DownloadGate } from '../../src/exchange/download-gate.js'
import { RateLimiter } from '../../src/exchange/rate.js'

describe('exchange: the rate limiter', function () {
  it('starts full: up to one second of bytes needs no wait, more waits for a full bucket only', () => {
    const bucket = new RateLimiter(1_000_000)
    assert.equal(bucket.waitFor(0), 0)
    assert.equal(bucket.waitFor(1_000_000), 0)
    assert.equal(bucket.waitFor(50_000_000), 0)
  })

  it('bytes counted after the fact put it in debt, and the wait is the time to repay it', () => {
    const bucket = new RateLimiter(1_000_000)
    bucket.debit(1_500_000)
    const wait = bucket.waitFor(0)
    assert.ok(wait > 400 && wait <= 500, `wait ${wait} ms`)
    const forMore = bucket.waitFor(250_000)
    assert.ok(forMore > 650 && forMore <= 750, `wait ${forMore} ms`)
  })

  it('take waits out the debt it makes', async () => {
    const bucket = new RateLimiter(1_000_000)
    bucket.debit(1_000_000)
    const started = performance.now()
    await bucket.take(100_000)
    assert.ok(performance.now() - started >= 90, 'took at least the 100 ms of its bytes')
  })

  it('a rate of 0 never limits', async () => {
    const bucket = new RateLimiter(0)
    assert.equal(bucket.unlimited, true)
    bucket.debit(1e12)
    assert.equal(bucket.waitFor(1e12), 0)
    await bucket.take(1e12)
  })

  it('a download gate takes a block per request, settles it on arrival and gives it back on none', async () => {
    const bucket = new RateLimiter(2 * MiB)
    let reopened = 0
    const gate = new DownloadGate(bucket, () => { reopened++ })
    assert.equal(gate.allows(), true)
    const first = gate.reserve()
    assert.equal(first, MiB, 'before any block, a request counts as 1 MiB')
    const second = gate.reserve()
    assert.equal(gate.allows(), true, 'a full bucket less two blocks is not in debt')
    const third = gate.reserve()
    assert.equal(gate.allows(), false, 'in debt after a second and one block')
    gate.giveBack(third)
    gate.settle(second, 10)
    assert.equal(gate.allows(), true, 'what did not come back is given back')
    gate.settle(first, 2 * MiB)
    assert.equal(gate.reserve(), 2 * MiB, 'estimated at the largest block since')
    gate.stop()
    await new Promise(resolve => setTimeout(resolve, 700))
    assert.equal(reopened, 0, 'a stopped gate wakes nobody')
  })

  it('a gate in debt wakes its session once the debt is repaid', async () => {
    let reopened = 0
    const gate = new DownloadGate(new RateLimiter(4 * MiB), () => { reopened++ })
    for (let i = 0; i < 5; i++) gate.reserve()
    assert.equal(gate.allows(), false)
    assert.equal(gate.allows(), false)
    await new Promise(resolve => setTimeout(resolve, 400))
    assert.equal(reopened, 1, 'one wake-up for two refusals')
    assert.equal(gate.allows(), true)
    gate.stop()
  })
})
