/**
 * Presence v2 (docs/gossip.md): the global period stretches so the swarm's beats fit the budget,
 * neighbours are judged by their neighbour beats, the table keeps neighbours when it is full, and
 * peers of the first version are heard and answered on their topic.
 */
import assert from 'node:assert/strict'
import { SizeEstimate } from '../../src/gossip/estimate.js'
import { MembershipTable } from '../../src/gossip/membership.js'
import { PresenceCore } from '../../src/gossip/presence.js'
import type { Presence } from '../../src/gossip/messages.js'
import type { SelfState } from '../../src/gossip/presence.js'

const period = 10_000
/** global beats a period: 0.5 a second at 10 s */
const budget = 5
const state: SelfState = { addrs: ['/ip4/127.0.0.1/tcp/1'], version: 'shoal/test', free: 100, uploads: 0, uploadSlots: 16, pins: 1 }

function beat (over: Partial<Presence> = {}): Presence {
  return { ...state, time: 0, interval: period, swarm: 1, ...over }
}

/** A deterministic source of numbers in [0, 1) */
function lcg (seed: number): () => number {
  let x = seed
  return () => { x = (x * 1103515245 + 12345) % 2147483648; return x / 2147483648 }
}

describe('gossip: presence v2', () => {
  it('stretches the global period so the swarm sends its budget, from the beats it hears', () => {
    const core = new PresenceCore({ self: 'me', intervalMs: period, budget, random: lcg(1) })
    core.start(0)
    // 2,000 members, each beating every 4,000 s: 0.5 beats a second arrive, at random times
    const members = 2000
    const every = members * period / budget
    const random = lcg(2)
    const arrivals = Array.from({ length: members }, (_, i) => ({ id: `m${i}`, at: Math.floor(random() * every) }))
      .filter(a => a.at < 600_000).sort((a, b) => a.at - b.at)
    for (const a of arrivals) core.receive(a.id, beat({ interval: every, swarm: members }), a.at)
    const size = core.swarmSize(600_000)
    assert.ok(size > 0.75 * members && size < 1.25 * members, `estimated ${size} of ${members}`)
    const interval = core.globalInterval(600_000)
    assert.ok(interval > 0.75 * every && interval < 1.25 * every, `global period ${interval} ms, budget asks ${every}`)
    assert.ok(core.view(600_000).partial, 'a few hundred rows of 2,000 members is a partial view')
  })

  it('keeps the first design\'s period in a small swarm, and lists every member', () => {
    const core = new PresenceCore({ self: 'me', intervalMs: period, budget, random: lcg(3) })
    core.start(0)
    for (let t = 0; t < 100_000; t += period) {
      for (const id of ['a', 'b', 'c']) core.receive(id, beat({ swarm: 4 }), t + 1000)
    }
    assert.equal(core.globalInterval(100_000), period)
    assert.deepEqual(core.view(100_000), { estimate: 4, known: 3, partial: false })
  })

  it('beats to a new neighbour at once, then to every neighbour once a period', () => {
    const core = new PresenceCore({ self: 'me', intervalMs: period, budget, random: lcg(4) })
    core.start(0)
    core.connected('n1')
    assert.equal(core.nextDue(5), 5, 'a new neighbour is due now')
    assert.deepEqual(core.tick(5).neighbours, ['n1'])
    core.connected('n2')
    const rounds: string[][] = []
    for (let now = 6, steps = 0; now < 3 * period && steps < 100; now = core.nextDue(now), steps++) {
      const due = core.tick(now)
      if (due.beat) core.beat(state, now)
      if (due.neighbours.length > 0) rounds.push(due.neighbours)
    }
    assert.deepEqual(rounds[0], ['n2'])
    assert.ok(rounds.slice(1).length >= 2 && rounds.slice(1).every(r => r.length === 2), JSON.stringify(rounds))
    assert.equal(core.neighbourBeat(state, 10).interval, period, 'a neighbour beat declares the neighbour period')
  })

  it('notices a crashed neighbour within 3 neighbour periods, though its global beats declare hours', () => {
    const core = new PresenceCore({ self: 'me', intervalMs: period, budget, random: lcg(5) })
    core.start(0)
    core.connected('n')
    core.receive('n', beat(), 0, 'neighbour')
    core.receive('n', beat(), period, 'neighbour')
    // its last global beat, sent before it crashed, arrives after its last neighbour beat
    core.receive('n', beat({ interval: 6 * 3600_000, uploads: 7 }), period + 500)
    assert.equal(core.member('n')?.uploads, 7, 'a global beat still says what it has')
    let goneAt: number | undefined
    for (let now = period + 500, steps = 0; now <= 5 * period && steps < 1000 && goneAt == null; now = core.nextDue(now), steps++) {
      if (core.tick(now).beat) core.beat(state, now)
      if (core.member('n')?.state === 'gone') goneAt = now
    }
    assert.ok(goneAt != null && goneAt - period <= 3 * period, `gone at ${String(goneAt)}`)
    // a member that is not a neighbour is judged by its own (long) period
    core.receive('far', beat({ interval: 6 * 3600_000 }), 0)
    assert.equal(core.member('far')?.state, 'alive')
  })

  it('a former neighbour is judged from its last neighbour beat until a global beat comes', () => {
    const table = new MembershipTable()
    table.connect('n')
    table.beat('n', beat(), 0, 'neighbour')
    assert.equal(table.get('n')?.neighbour, true)
    table.disconnect('n')
    table.sweep(3 * period)
    assert.equal(table.get('n')?.state, 'gone')
    table.beat('n', beat({ interval: 3600_000 }), 3 * period)
    table.sweep(10 * period)
    assert.equal(table.get('n')?.state, 'alive')
  })

  it('hears peers of the first version, and answers them on their topic with a period they accept', () => {
    const core = new PresenceCore({ self: 'me', intervalMs: period, budget, random: lcg(6) })
    core.start(0, 100_000)
    assert.equal(core.globalInterval(0), 24 * 3600_000, 'a large swarm stretches to the longest period')
    // a v2 peer's copy on the first version's topic is not counted twice
    assert.equal(core.receive('v2peer', beat({ swarm: 9 }), 1000, 'legacy'), false)
    assert.equal(core.tick(1000).legacy, false)
    assert.equal(core.receive('old', beat({ swarm: 0 }), 2000, 'legacy'), true)
    assert.equal(core.tick(2000).legacy, true)
    assert.equal(core.globalInterval(2000), 10 * 60_000)
    assert.equal(core.member('old')?.state, 'alive')
    assert.equal(core.tick(2000 + 10 * 60_000).legacy, false, 'no longer once they are quiet')
  })

  it('a full table gives up the member heard from least recently, never a neighbour or itself', () => {
    const table = new MembershipTable(undefined, { maxRows: 4, self: 'me' })
    table.beat('me', beat({ interval: 3600_000 }), 0)
    table.connect('n')
    table.beat('n', beat(), 1, 'neighbour')
    table.beat('a', beat({ interval: 3600_000 }), 2)
    table.beat('b', beat({ interval: 3600_000 }), 3)
    assert.equal(table.beat('c', beat({ interval: 3600_000 }), 4), true)
    assert.equal(table.get('a'), undefined, 'the least recently heard went')
    assert.deepEqual(table.list().map(m => m.peerId).sort(), ['b', 'c', 'me', 'n'])
    assert.equal(table.evicted, 1)
    table.connect('n2')
    table.beat('n2', beat(), 5, 'neighbour')
    assert.ok(table.get('n2') != null && table.get('me') != null && table.get('n') != null)
    assert.equal(table.rows, 4)
  })

  it('a joining peer takes its neighbours\' estimate until it has heard enough beats itself', () => {
    const estimate = new SizeEstimate(200_000)
    estimate.start(0)
    estimate.add(4_000_000, 1000)
    assert.equal(estimate.size(1000, [9000, 10_000, 11_000], 2), 10_000)
    // a swarm of 200 beating every 20 s each, heard for 100 s: the reports are not needed
    const steady = new SizeEstimate(200_000)
    steady.start(0)
    for (let t = 0; t < 100_000; t += 100) steady.add(20_000, t)
    const n = steady.size(100_000, [5], 1)
    assert.ok(n > 180 && n < 220, `estimated ${n} of 200`)
  })
})
