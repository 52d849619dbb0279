/**
 * The membership table's states follow missed beats: suspect after 1.5 periods, gone after 2.5,
 * so a member that dies is gone within 3 periods of its last beat.
 */
import assert from 'node:assert/strict'
import { MembershipTable, loadRank } from '../../src/gossip/membership.js'
import type { Presence } from '../../src/gossip/messages.js'

const interval = 1000

function beat (over: Partial<Presence> = {}): Presence {
  return { addrs: ['/ip4/127.0.0.1/tcp/1'], version: 'shoal/test', free: 100, uploads: 0, uploadSlots: 16, pins: 1, time: 0, interval, swarm: 0, ...over }
}

describe('gossip: membership table', () => {
  it('moves a silent member from alive to suspect to gone, and back to alive on a beat', () => {
    const changes: string[] = []
    const table = new MembershipTable((m, previous) => { changes.push(`${previous ?? 'new'}->${m.state}`) })
    const t0 = 1_000_000
    table.beat('a', beat(), t0)
    table.sweep(t0 + 1.4 * interval)
    assert.equal(table.get('a')?.state, 'alive')
    table.sweep(t0 + 1.6 * interval)
    assert.equal(table.get('a')?.state, 'suspect')
    table.sweep(t0 + 2.4 * interval)
    assert.equal(table.get('a')?.state, 'suspect')
    table.sweep(t0 + 2.6 * interval)
    assert.equal(table.get('a')?.state, 'gone')
    assert.equal(table.size, 0, 'gone members are not counted')
    table.beat('a', beat(), t0 + 5 * interval)
    assert.equal(table.get('a')?.state, 'alive')
    assert.deepEqual(changes, ['new->alive', 'alive->suspect', 'suspect->gone', 'gone->alive'])
  })

  it('is gone within 3 heartbeats of its last beat whatever the sweep phase', () => {
    for (const phase of [0, 0.1, 0.25, 0.49]) {
      const table = new MembershipTable()
      table.beat('a', beat(), 0)
      // sweeps come every quarter period, starting at some phase
      let goneAt: number | undefined
      for (let t = phase * interval; t <= 4 * interval; t += interval / 4) {
        table.sweep(t)
        if (table.get('a')?.state === 'gone') { goneAt = t; break }
      }
      assert.ok(goneAt != null && goneAt <= 3 * interval, `phase ${phase}: gone at ${String(goneAt)}`)
    }
  })

  it('uses each member\'s own period, and forgets members gone for 60 periods', () => {
    const table = new MembershipTable()
    table.beat('slow', beat({ interval: 10_000 }), 0)
    table.beat('fast', beat(), 0)
    table.sweep(3000)
    assert.equal(table.get('slow')?.state, 'alive')
    assert.equal(table.get('fast')?.state, 'gone')
    table.sweep(61 * interval)
    assert.equal(table.get('fast'), undefined)
    assert.equal(table.list().length, 1)
  })

  it('ranks lightly loaded live members first', () => {
    const table = new MembershipTable()
    table.beat('idle', beat({ uploads: 0 }), 0)
    table.beat('busy', beat({ uploads: 12 }), 0)
    assert.ok(loadRank(table.get('idle')) < loadRank(table.get('busy')))
    assert.ok(loadRank(table.get('busy')) < loadRank(undefined), 'a known member ranks before a stranger')
    table.sweep(2 * interval)
    assert.equal(loadRank(table.get('idle')), 2, 'a suspect member ranks last')
  })
})
