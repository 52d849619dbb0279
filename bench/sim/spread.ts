/**
 * Fetch spread in the simulator: many peers fetch one popular root from its holders, and each
 * fetch session orders its peers with shoal's own `rankPeers` (`src/exchange/rank.ts`), as the
 * daemon's session does. What the session does is followed where it decides who uploads: the
 * provider search finds the holders in one order for every fetcher (the worst case: the first
 * `MAX_SESSION_PEERS` always) and each is probed with `have`; the first to answer joins first and is
 * asked for the root; once the root is in, its links go to the peers in ranked order, each up to its
 * window (`INITIAL_WINDOW`), and the next peer is asked for the same blocks (the session's end-game,
 * at most two askers a block); the copy that comes second is cancelled. A holder answers `have` with
 * its load (fetchers it is uploading to) and sends blocks over its uplink one after another; a block
 * already on the wire when its cancel arrives is sent whole. Upload slots and BUSY are not modelled.
 */
import { INITIAL_WINDOW, MAX_SESSION_PEERS } from '../../src/constants.js'
import { rankPeers } from '../../src/exchange/rank.js'
import { mulberry32 } from './types.js'
import { Wheel } from './wheel.js'

export interface SpreadInit {
  /** Peers in the swarm: every one that is not a holder fetches the root once */
  peers: number
  /** @default 20 */
  holders?: number
  /** @default 1 MiB */
  fileBytes?: number
  /** @default 256 KiB */
  blockBytes?: number
  /** @default 100 */
  latencyMs?: number
  /** @default 10 Mbit/s */
  uplinkBytesPerSec?: number
  /** Fetches a second as a share of what the holders' uplinks can carry. @default 0.5 */
  utilisation?: number
  /** Rank with the loads holders report (true), or as before they reported any (false). @default true */
  useLoad?: boolean
  /** One holder (a seed in a data centre) is this much nearer every fetcher than the others' mean. @default 1 (none) */
  seedNearer?: number
  seed?: number
}

export interface SpreadResult {
  peers: number
  holders: number
  fetches: number
  /** Bytes each holder uploaded, largest over mean (holders found by no fetcher count as zero) */
  maxOverMean: number
  /** Share of uploaded bytes that were end-game copies the fetcher did not need */
  wasted: number
  /** Fetch time, ms: median and largest */
  p50Ms: number
  maxMs: number
  /** Bytes each holder uploaded */
  uploaded: number[]
}

interface Send { fetcher: number, holder: number, block: number, cancelled: boolean }
interface Holder { queue: Send[], busyUntil: number, serving: Map<number, number>, uploaded: number }

export function simulateSpread (init: SpreadInit): SpreadResult {
  const o = { holders: 20, fileBytes: 1 << 20, blockBytes: 256 * 1024, latencyMs: 100, uplinkBytesPerSec: 10e6 / 8, utilisation: 0.5, useLoad: true, seedNearer: 1, seed: 1, ...init }
  const random = mulberry32(o.seed)
  const wheel = new Wheel<() => void>()
  const holders: Holder[] = Array.from({ length: o.holders }, () => ({ queue: [], busyUntil: 0, serving: new Map(), uploaded: 0 }))
  const leaves = Math.ceil(o.fileBytes / o.blockBytes)
  const rootBytes = 100 + 40 * leaves
  const size = (block: number): number => block === 0 ? rootBytes : Math.min(o.blockBytes, o.fileBytes - (block - 1) * o.blockBytes)
  // one-way latency of a fetcher-holder link, 0.5x to 1.5x the mean (as the gossip simulator's links)
  const latency = (f: number, h: number): number => {
    if (h === 0 && o.seedNearer > 1) return o.latencyMs / o.seedNearer
    const x = (f + o.holders) * 73856093 ^ h * 19349663
    return o.latencyMs * (0.5 + (Math.imul(x, 0x9E3779B1) >>> 0) / 4294967296)
  }
  const fetches = o.peers - o.holders
  const perSec = o.utilisation * o.holders * o.uplinkBytesPerSec / o.fileBytes
  let wasted = 0
  let total = 0
  const times: number[] = []

  /** The holder sends what is queued, one block after another */
  const pump = (h: number): void => {
    const holder = holders[h]
    if (holder.busyUntil > wheel.now) return
    let s: Send | undefined
    while ((s = holder.queue.shift()) != null && s.cancelled) release(h, s.fetcher)
    if (s == null) return
    const bytes = size(s.block)
    holder.uploaded += bytes
    total += bytes
    holder.busyUntil = wheel.now + bytes * 1000 / o.uplinkBytesPerSec
    const sent = s
    wheel.at(holder.busyUntil, () => {
      release(h, sent.fetcher)
      pump(h)
    })
    wheel.at(holder.busyUntil + latency(sent.fetcher, h), () => { arrive(sent.fetcher, h, sent.block, bytes) })
  }
  const release = (h: number, f: number): void => {
    const n = (holders[h].serving.get(f) ?? 1) - 1
    if (n > 0) holders[h].serving.set(f, n)
    else holders[h].serving.delete(f)
  }
  const ask = (f: number, h: number, block: number): Send => {
    const s: Send = { fetcher: f, holder: h, block, cancelled: false }
    wheel.at(wheel.now + latency(f, h), () => {
      holders[h].serving.set(f, (holders[h].serving.get(f) ?? 0) + 1)
      holders[h].queue.push(s)
      pump(h)
    })
    return s
  }

  interface Fetch { start: number, joined: Array<{ h: number, load?: number, window: number }>, got: Set<number>, asked: Map<number, Send[]> }
  const sessions = new Map<number, Fetch>()
  const arrive = (f: number, h: number, block: number, bytes: number): void => {
    const s = sessions.get(f)
    if (s == null) return
    if (s.got.has(block)) { wasted += bytes; return }
    s.got.add(block)
    // the other asker's copy is cancelled
    for (const other of s.asked.get(block) ?? []) {
      if (other.holder !== h) wheel.at(wheel.now + latency(f, other.holder), () => { other.cancelled = true })
    }
    if (block === 0) {
      // the root's links to the peers in ranked order, each up to its window; when none is left
      // to take, blocks in flight are asked of a second peer (end-game)
      const ranked = rankPeers(s.joined.map(j => o.useLoad ? j : { ...j, load: undefined }))
      let next = 1
      for (const peer of ranked) {
        for (let n = 0; n < peer.window; n++) {
          let b = next <= leaves ? next++ : -1
          if (b < 0) {
            for (let d = 1; d <= leaves && b < 0; d++) {
              const list = s.asked.get(d) ?? []
              if (!s.got.has(d) && list.length < 2 && !list.some(x => x.holder === peer.h)) b = d
            }
          }
          if (b < 0) break
          s.asked.set(b, [...(s.asked.get(b) ?? []), ask(f, peer.h, b)])
        }
      }
    }
    if (s.got.size === leaves + 1) {
      times.push(wheel.now - s.start)
      sessions.delete(f)
    }
  }
  const start = (f: number): void => {
    const s: Fetch = { start: wheel.now, joined: [], got: new Set(), asked: new Map() }
    sessions.set(f, s)
    for (let h = 0; h < Math.min(o.holders, MAX_SESSION_PEERS); h++) {
      // the have probe: the holder answers with its load when the probe reaches it
      wheel.at(wheel.now + latency(f, h), () => {
        const load = holders[h].serving.size
        wheel.at(wheel.now + latency(f, h), () => {
          if (!sessions.has(f)) return
          s.joined.push({ h, load, window: INITIAL_WINDOW })
          // the first to join is asked for the root, the second too while it has not come
          const asked = s.asked.get(0) ?? []
          if (asked.length < 2 && !s.got.has(0)) s.asked.set(0, [...asked, ask(f, h, 0)])
        })
      })
    }
  }
  // fetches start one after another at random (a Poisson process), each scheduling the next
  let t = 0
  const next = (f: number): void => {
    if (f >= fetches) return
    t += -Math.log(1 - random()) * 1000 / perSec
    wheel.at(t, () => {
      start(f)
      next(f + 1)
    })
  }
  next(0)
  while (wheel.pending > 0) wheel.step(e => { e() })
  const up = holders.map(h => h.uploaded)
  const mean = up.reduce((a, b) => a + b, 0) / up.length
  const sorted = [...times].sort((a, b) => a - b)
  return {
    peers: o.peers,
    holders: o.holders,
    fetches: times.length,
    maxOverMean: Math.max(...up) / mean,
    wasted: wasted / Math.max(total, 1),
    p50Ms: sorted[Math.floor(sorted.length / 2)] ?? NaN,
    maxMs: sorted[sorted.length - 1] ?? NaN,
    uploaded: up
  }
}
