/**
 * The gossip simulator, small and fast: a few hundred peers running shoal's presence core on a
 * virtual clock. Asserts outcomes, not timings of this machine: announcements reach 99% of the
 * peers within 2 s of simulated time, crashes are noticed by every peer within 3 periods, a
 * healed partition's halves see each other again, and the costs it counts follow from the model.
 */
import assert from 'node:assert/strict'
import { CONFIG_DEFAULTS } from '../../src/defaults.js'
import { simulate } from '../../bench/sim/index.js'
import { partition, standard } from '../../bench/sim/scenario.js'

describe('gossip simulator: today\'s design at a few hundred peers', function () {
  this.timeout(120_000)

  it('announcements reach 99% within 2 s, every crash is noticed within 3 periods, tables hold the swarm', async () => {
    const peers = 200
    const r = await simulate(standard(peers, { seed: 7 }))
    assert.equal(r.truncated, false)
    assert.equal(r.announce99Ms.length, 4)
    for (const t of r.announce99Ms) assert.ok(t != null && t <= 2000, `an announcement reached 99% after ${String(t)} ms`)
    assert.ok(r.crash != null && r.crash.crashed === 2 && r.crash.pairs >= 0.95 * (peers - 4) * 2, `crash pairs ${JSON.stringify(r.crash)}`)
    assert.equal(r.crash.noticed, r.crash.pairs, 'every live peer saw every crashed peer gone')
    assert.ok(r.crash.maxMs <= 3 * CONFIG_DEFAULTS.gossip.presenceIntervalMs, `noticed after ${r.crash.maxMs} ms`)
    // every live member is in every table (joins and leaves included), and no more than have ever lived
    assert.ok(r.membershipRows.mean >= peers - 4 && r.membershipRows.max <= peers + 2, `rows ${JSON.stringify(r.membershipRows)}`)
    // today's design: every peer hears every beat, each copy checked; gossipsub sends duplicates
    const beatsPerSec = peers / (CONFIG_DEFAULTS.gossip.presenceIntervalMs / 1000)
    assert.ok(r.copiesInPerSec.mean > 3 * beatsPerSec, `copies ${r.copiesInPerSec.mean}/s for ${beatsPerSec} beats/s`)
    assert.equal(r.sigChecksPerSec.mean, r.copiesInPerSec.mean, 'gossipsub checks the signature of every copy')
    assert.ok(r.duplicateFraction > 0.5 && r.duplicateFraction < 0.95, `duplicates ${r.duplicateFraction}`)
  })

  it('a healed partition\'s halves list each other as alive again within 2 periods', async () => {
    const r = await simulate(partition(100, { seed: 3 }))
    assert.ok(r.healMs != null && r.healMs <= 2 * CONFIG_DEFAULTS.gossip.presenceIntervalMs, `whole again after ${String(r.healMs)} ms`)
  })

  it('per-peer presence cost grows with the swarm in today\'s design (what issue 20 must flatten)', async () => {
    const [small, large] = [await simulate(standard(50, { seed: 5 })), await simulate(standard(200, { seed: 5 }))]
    const ratio = large.bytesInPerSec.presence.mean / small.bytesInPerSec.presence.mean
    assert.ok(ratio > 2.5 && ratio < 6, `4x the peers, ${ratio.toFixed(2)}x the bytes in per peer`)
  })
})
