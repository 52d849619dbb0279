/**
 * The bootstrap keeper: while every bootstrap peer fails it says what failed in one line and
 * waits longer each round; once a peer answers, the problem is gone and the wait is reset.
 */
import assert from 'node:assert/strict'
import { BootstrapKeeper, dialFailure } from '../../src/routing/bootstrap.js'
import type { Logger } from '@libp2p/interface'

const log = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false, newScope: () => log }) as unknown as Logger
const ID = '12D3KooWLYKoVogFCpMkmUG5Twzeb8UM87snSkdxCfFGdNBUpHHd'
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('routing: bootstrap keeper', () => {
  it('names what a failed dial says about the network', () => {
    assert.equal(dialFailure(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })), 'refused')
    assert.equal(dialFailure({ name: 'AggregateError', message: 'all failed', errors: [{ code: 'EHOSTUNREACH' }] }), 'no route')
    assert.equal(dialFailure(Object.assign(new Error('getaddrinfo'), { cause: { code: 'ENOTFOUND' } })), 'DNS lookup failed')
    assert.equal(dialFailure(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), 'timed out')
    assert.equal(dialFailure(new Error('something else\nmore')), 'something else')
  })

  it('says why no bootstrap peer answered, backs off, and clears once one answers', async () => {
    let peers = 0
    let dials = 0
    const host = {
      getPeers: () => new Array(peers),
      dial: async (ma: any) => {
        dials++
        if (String(ma).includes('/tcp/1/')) throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })
        throw new DOMException('timeout', 'TimeoutError')
      }
    }
    const keeper = new BootstrapKeeper({ host: host as any, log, list: [`/ip4/10.0.0.1/tcp/1/p2p/${ID}`, `/ip4/10.0.0.2/tcp/2/p2p/${ID}`], intervalMs: 20, maxIntervalMs: 80 })
    keeper.start()
    try {
      await sleep(60)
      assert.match(keeper.problem ?? '', /^none of 2 bootstrap peer\(s\) answered \(1 refused, 1 timed out\); trying again in \d+ s$/)
      // 20, 40, 80, 80 ms between rounds: a few rounds in 300 ms, not 15
      const before = dials
      await sleep(300)
      const rounds = (dials - before) / 2
      assert.ok(rounds >= 2 && rounds <= 6, `${rounds} rounds in 300 ms`)
      peers = 1
      await sleep(120)
      assert.equal(keeper.problem, undefined)
    } finally {
      keeper.stop()
    }
  })
})
