/**
 * The replication policy's limits hold against announcements that arrive together, and against
 * content larger than announced.
 */
import assert from 'node:assert/strict'
import { logger } from '@libp2p/logger'
import { Replicator } from '../../src/gossip/replicate.js'
import { replicaLimit } from '../../src/peer/replication.js'
import type { Announcement } from '../../src/gossip/index.js'

function announcement (cid: string, size: number): Announcement {
  return { cid, name: cid, size, time: Date.now(), tags: ['t'], replicas: 0, publisher: 'publisher' } as unknown as Announcement
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
      room: async () => ({ free: 100_000_000, replicated }),
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
})
