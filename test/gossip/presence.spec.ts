/**
 * The presence core runs on the clock it is given: beats and sweeps come due at the times it
 * says, and a member that falls silent is gone within 3 periods of its last beat.
 */
import assert from 'node:assert/strict'
import { PresenceCore } from '../../src/gossip/presence.js'
import type { SelfState } from '../../src/gossip/presence.js'

const interval = 1000
const state: SelfState = { addrs: ['/ip4/127.0.0.1/tcp/1'], version: 'shoal/test', free: 100, uploads: 0, uploadSlots: 16, pins: 1 }

/** Drive a core to `until`, waking it exactly when it says; returns the times it beat */
function run (core: PresenceCore, from: number, until: number): number[] {
  const beats: number[] = []
  for (let now = from, steps = 0; now <= until && steps < 10_000; now = core.nextDue(), steps++) {
    if (core.tick(now).beat) beats.push(core.beat(state, now).time)
  }
  return beats
}

describe('gossip: presence core', () => {
  it('beats at start and once a period, sweeps four times a period, and stops', () => {
    const core = new PresenceCore({ self: 'me', intervalMs: interval })
    assert.equal(core.nextDue(), Infinity, 'nothing is due before start')
    core.start(0)
    assert.deepEqual(run(core, 0, 3500), [0, 1000, 2000, 3000])
    assert.equal(core.sweepEveryMs, 250)
    assert.equal(core.member('me')?.state, 'alive')
    core.stop()
    assert.equal(core.nextDue(), Infinity)
  })

  it('a late wake skips missed beats rather than sending them in a burst', () => {
    const core = new PresenceCore({ self: 'me', intervalMs: interval })
    core.start(0)
    assert.equal(core.tick(0).beat, true)
    assert.equal(core.tick(5200).beat, true)
    assert.equal(core.tick(5201).beat, false)
    assert.equal(core.nextDue(), 5450, 'the next sweep')
    assert.equal(core.tick(6199).beat, false)
    assert.equal(core.tick(6200).beat, true)
  })

  it('marks a member gone within 3 periods of its last beat, on its own sweeps', () => {
    const core = new PresenceCore({ self: 'me', intervalMs: interval })
    core.start(0)
    core.receive('other', { ...state, time: 100, interval, swarm: 0 }, 100)
    let goneAt: number | undefined
    for (let now = 0, steps = 0; now <= 5000 && steps < 1000 && goneAt == null; now = core.nextDue(), steps++) {
      if (core.tick(now).beat) core.beat(state, now)
      if (core.member('other')?.state === 'gone') goneAt = now
    }
    assert.ok(goneAt != null && goneAt - 100 <= 3 * interval, `gone at ${String(goneAt)}`)
    assert.equal(core.size, 1, 'only this peer is counted')
    assert.equal(core.rows, 2, 'the gone member is still held')
    assert.deepEqual(core.members(goneAt).map(m => [m.peerId, m.self === true]).sort(), [['me', true], ['other', false]])
  })
})
