/**
 * The token bucket behind the upload and download caps: at most one second of burst, waits that
 * grow with debt, and a bucket of 0 that never limits.
 */
import assert from 'node:assert/strict'
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
})
