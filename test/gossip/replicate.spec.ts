/**
 * The replication policy's limits hold against announcements that arrive together, and against
 * content larger than announced; a publisher assigns once enough volunteers came and a short grace
 * passed, not after a fixed window, and assigns another volunteer in place of a holder not heard in time.
 */
import assert from 'node:assert/strict'
import { logger } from '@libp2p/logger'
import { REPLICATE_TIMEOUT, VOLUNTEER_GRACE, VOLUNTEER_WINDOW } from '../../src/constants.js'
import { Replicate } from '../../src/gossip/messages.js'
import { Replicator, assignAt, heldDeadline } from '../../src/gossip/replicate.js'
import { replicaLimit, replicationHooks } from '../../src/peer/replication.js'
import type { Announcement } from '../../src/gossip/index.js'
import type { ReplicatorInit } from '../../src/gossip/replicate.js'

function announcement (cid: string, size: number): Announcement {
  return { cid, name: cid, size, time: Date.now(), tags: ['t'], replicas: 0, publisher: 'publisher' } as unknown as Announcement
}

/** A publisher that replicates nothing itself and records what it sends */
function publisher (sent: Replicate[], init: Partial<ReplicatorInit> = {}): Replicator {
  return new Replicator({
    self: 'publisher',
    policy: { enabled: false, tags: [], maxFileSize: 0, maxTotalBytes: 0 },
    log: logger('test'),
    send: async (m) => { sent.push(m) },
    free: async () => 0,
    replicated: async () => 0,
    hold: async () => {},
    ...init
  })
}

describe('gossip: replication policy', () => {
  it('maxTotalBytes holds when announcements arrive together: replicas being fetched count', async () => {
    const held: string[] = []
    let replicated = 0
    const release: Array<() => void> = []
    const replicator = new Replicator({
      self: 'me',
      policy: { enabled: true, tags: ['t'], maxFileSize: 0, maxTotalBytes: 1_000_000 },
      log: logger('test'),
      send: async () => {},
      free: async () => 100_000_000,
      replicated: async () => replicated,
      // each fetch takes a while; the pin counts once it is held
      hold: async (a) => {
        held.push(a.cid)
        await new Promise<void>((resolve) => { release.push(resolve) })
        replicated += a.size
      }
    })
    const arriving = ['a', 'b', 'c'].map(async (cid) => { await replicator.onAnnounce(announcement(cid, 600_000)) })
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(held.length, 1, `fetching ${held.join(', ')} for a limit of one`)
    for (const r of release) r()
    await Promise.all(arriving)
    // once held, it counts as replicated: a later one still does not fit, a small one does
    await replicator.onAnnounce(announcement('d', 600_000))
    const small = replicator.onAnnounce(announcement('e', 300_000))
    await new Promise((resolve) => setTimeout(resolve, 50))
    for (const r of release) r()
    await small
    assert.deepEqual(held, [held[0], 'e'])
  })

  it('a replica may have its announced size, its nodes and a MiB of slack, no more', () => {
    assert.equal(replicaLimit(0), 1024 * 1024)
    assert.equal(replicaLimit(1_000_000), 1_000_000 + 10_000 + 1024 * 1024)
  })

  it('the publisher assigns a grace after enough volunteers came, as long as they took, within the window', () => {
    // quick volunteers: the grace, not the window
    assert.equal(assignAt(1000, 1100), 1100 + VOLUNTEER_GRACE)
    // slower ones: as long again as they took
    assert.equal(assignAt(1000, 1600), 2200)
    // never past the window while they came within it
    assert.equal(assignAt(1000, 2500), 1000 + VOLUNTEER_WINDOW)
    // enough only after the window: at once
    assert.equal(assignAt(1000, 5000), 5000)
    // never enough: the timeout
    assert.equal(assignAt(1000, undefined), 1000 + REPLICATE_TIMEOUT)
  })

  it('a request assigns the volunteers with most room among those in the grace, not a late one', async () => {
    const sent: Replicate[] = []
    const replicator = publisher(sent)
    const a = { ...announcement('c', 10), replicas: 2 }
    const assigned = replicator.request(a)
    const volunteer = async (from: string, free: number): Promise<void> => {
      await replicator.onReplicate(from, { kind: Replicate.Kind.VOLUNTEER, cid: 'c', time: Date.now(), free, holders: [] })
    }
    await volunteer('small', 10)
    await volunteer('mid', 20)
    // within the grace: it has more room than both, so it is taken
    await volunteer('big', 30)
    // a volunteer far later than the first ones (half the window) is not waited for
    const late = new Promise<void>((resolve) => setTimeout(() => { void volunteer('late', 1000).then(resolve) }, VOLUNTEER_WINDOW / 2))
    assert.deepEqual(await assigned, ['big', 'mid'])
    assert.equal(sent.length, 1)
    assert.equal(sent[0].kind, Replicate.Kind.ASSIGN)
    assert.deepEqual(sent[0].holders, ['big', 'mid'])
    await late
  })

  it('a publisher assigns a volunteer in place of a holder not heard in time, a bounded number of times', async () => {
    // a clock the test moves: timers run when it passes them
    let now = 0
    let timers: Array<{ at: number, fn: () => void }> = []
    const settle = async (): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, 10)) }
    const advance = async (ms: number): Promise<void> => {
      await settle()
      now += ms
      const due = timers.filter(t => t.at <= now)
      timers = timers.filter(t => t.at > now)
      for (const t of due) t.fn()
      await settle()
    }
    const sent: Replicate[] = []
    const replicator = publisher(sent, {
      now: () => now,
      after: (ms, fn) => {
        const t = { at: now + ms, fn }
        timers.push(t)
        return () => { timers = timers.filter(x => x !== t) }
      }
    })
    const a = { ...announcement('c', 1024 * 1024), replicas: 2 }
    const assigned = replicator.request(a)
    const message = async (from: string, kind: Replicate.Kind, free = 0): Promise<void> => {
      await replicator.onReplicate(from, { kind, cid: 'c', time: now, free, holders: [] })
    }
    for (const [id, free] of [['v1', 50], ['v2', 40], ['v3', 30], ['v4', 20], ['v5', 10], ['v6', 5]] as const) await message(id, Replicate.Kind.VOLUNTEER, free)
    await advance(VOLUNTEER_GRACE)
    assert.deepEqual(await assigned, ['v1', 'v2'])
    // v1 holds it in time; v2 never says so
    await message('v1', Replicate.Kind.HELD)
    await advance(heldDeadline(a.size) - 1)
    assert.equal(sent.length, 1, 'nobody replaced before the deadline')
    await advance(1)
    assert.deepEqual(sent.map(m => m.holders), [['v1', 'v2'], ['v3']], 'v2 replaced by the volunteer with the most room left, v1 kept')
    // the replacements are silent too: they stop at the bound, though v6 is left
    for (let i = 0; i < 5; i++) await advance(heldDeadline(a.size))
    assert.deepEqual(sent.map(m => m.holders), [['v1', 'v2'], ['v3'], ['v4'], ['v5']])
    assert.ok(sent.every(m => m.kind === Replicate.Kind.ASSIGN))
    assert.equal(timers.length, 0, 'no timer left once the replacements are used up')
  })

  it('an assigned holder says HELD once the content is whole, while its pin is still being written, and once', async () => {
    const sent: Replicate[] = []
    let pinned!: () => void
    let holding!: () => void
    const held = new Promise<void>((resolve) => { holding = resolve })
    const replicator = new Replicator({
      self: 'me',
      policy: { enabled: true, tags: ['t'], maxFileSize: 0, maxTotalBytes: 0 },
      log: logger('test'),
      send: async (m) => { sent.push(m) },
      free: async () => 100_000_000,
      replicated: async () => 0,
      hold: async (_a, whole) => {
        whole?.()
        // the pin's write, still under way
        await new Promise<void>((resolve) => { pinned = resolve })
        holding()
      }
    })
    const a = { ...announcement('c', 1000), replicas: 1 }
    await replicator.onAnnounce(a)
    assert.deepEqual(sent.map(m => m.kind), [Replicate.Kind.VOLUNTEER])
    const holds = replicator.onReplicate('publisher', { kind: Replicate.Kind.ASSIGN, cid: 'c', time: Date.now(), free: 0, holders: ['me'] })
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.deepEqual(sent.map(m => m.kind), [Replicate.Kind.VOLUNTEER, Replicate.Kind.HELD], 'HELD before the pin is written')
    assert.deepEqual(replicator.holdersOf('c').map(h => h.peerId), ['me'])
    pinned()
    await held
    await holds
    assert.deepEqual(sent.map(m => m.kind), [Replicate.Kind.VOLUNTEER, Replicate.Kind.HELD], 'not said again once the pin is written')
  })

  it('a holder names the publisher to its fetch when connected to it directly, not over a relay', async () => {
    const publisher = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'
    const fetched: string[][] = []
    const hooks = (connections: Array<{ limits?: unknown }>): ReturnType<typeof replicationHooks> => replicationHooks({
      store: { pins: { scan: async () => ({ pins: [] }) } } as any,
      host: { getConnections: () => connections, peerStore: { merge: async () => {} }, dial: async () => {} } as any,
      fetch: async (_cid, _name, _max, from) => { fetched.push(from) }
    })
    const a = { ...announcement('c', 10), publisher }
    await hooks([{}]).hold(a, undefined)
    await hooks([{ limits: { bytes: 1 } }]).hold(a, undefined)
    await hooks([]).hold(a, undefined)
    assert.deepEqual(fetched, [[`/p2p/${publisher}`], [], []])
  })
})
