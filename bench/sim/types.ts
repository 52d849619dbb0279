/**
 * The simulator's settings and results, and the small helpers its runs share (swarm.ts runs it).
 */

/** The designs the simulator runs: the first (every beat to everyone) and v2 (budgeted global beats, neighbour beats) */
export type Design = 'today' | 'v2'

export interface SimInit {
  /** Peers at the start */
  peers: number
  /** @default 'today' */
  design?: Design
  /** v2: the swarm's global beats a period. @default the config's `gossip.presenceBudget` */
  budget?: number
  /** v2: rows a membership table holds at most. @default the presence core's */
  maxRows?: number
  /** @default the config's `gossip.presenceIntervalMs` (10 s) */
  intervalMs?: number
  /** Mean one-way latency of a link; each link gets 0.5x to 1.5x of it. @default 100 */
  latencyMs?: number
  /** Probability that a send is lost once and retransmitted by TCP (3x the link's latency later). @default 0.01 */
  loss?: number
  /** Each peer's upload bandwidth. @default 10 Mbit/s */
  uplinkBytesPerSec?: number
  /** The neighbour keeper dials while a peer has fewer connections. @default 8 */
  minConnections?: number
  seed?: number
  /** Simulated time, ms */
  durationMs: number
  /** Costs are counted from here to the end (the tables fill during the first period) */
  measureFromMs: number
  /** When announcements are published, each by a random live peer */
  announceAtMs?: number[]
  /** Copies each announcement asks for (`publish --replicas`). @default 0 */
  replicas?: number
  /** Peers whose replication policy is on (random, chosen at the start). @default 0 */
  replicators?: number
  /** Bytes of each announced file. @default 1 MiB */
  fileBytes?: number
  /** Crash `count` random peers at `atMs` (no goodbye, connections left open) */
  crash?: { atMs: number, count: number }
  /** Peers that leave (stop cleanly) and join, spread evenly over [fromMs, toMs) */
  churn?: { fromMs: number, toMs: number, leaves: number, joins: number }
  /** Cut off `fraction` of the peers from the rest over [atMs, healAtMs) */
  partition?: { atMs: number, healAtMs: number, fraction: number }
  /** Stop early when the run takes longer than this in wall time. @default 10 minutes */
  maxWallMs?: number
}

import type { Replicated } from './replication.js'

/** Virtual time 0 is this wall-clock time, so timestamps encode at their real length */
export const EPOCH = 1_767_225_600_000

/** Counter slots: the gossipsub topics (their index in a run's topic list), then what is counted apart from them */
export const PRESENCE = 0
export const ANNOUNCE = 1
export const REPLICATE = 2
/** Neighbour beats: counted with presence, not on gossipsub */
export const NEIGHBOUR = 3
/** Content fetched by replicas' holders: not counted in the gossip totals */
export const CONTENT = 4

/** Per-peer counters, one slot per peer, per topic where it says so */
export class Counters {
  bytesIn: Float64Array[]
  bytesOut: Float64Array[]
  copiesIn: Float64Array
  dupsIn: Float64Array
  sigChecks: Float64Array
  signs: Float64Array
  constructor (n: number) {
    this.bytesIn = [0, 1, 2, 3, 4].map(() => new Float64Array(n))
    this.bytesOut = [0, 1, 2, 3, 4].map(() => new Float64Array(n))
    this.copiesIn = new Float64Array(n)
    this.dupsIn = new Float64Array(n)
    this.sigChecks = new Float64Array(n)
    this.signs = new Float64Array(n)
  }
}

export interface Spread { mean: number, p99: number, max: number }

export interface SimResult {
  peers: number
  steadyPeers: number
  simulatedMs: number
  wallMs: number
  events: number
  truncated: boolean
  /** Per steady peer, per second of the measurement window */
  design: Design
  /** By kind: `presence` is the presence topics and neighbour beats together, `neighbour` the neighbour beats alone */
  bytesInPerSec: { total: Spread, presence: Spread, announce: Spread, neighbour: Spread }
  bytesOutPerSec: { total: Spread, presence: Spread, announce: Spread, neighbour: Spread }
  /** Global beats sent a second, the whole swarm */
  globalBeatsPerSec: number
  /** v2: the swarm's size as peers estimate it (mean over steady peers, at the end) */
  estimate?: Spread
  copiesInPerSec: Spread
  duplicateFraction: number
  sigChecksPerSec: Spread
  membershipRows: Spread
  /** Per announcement: ms until 99% of the peers live when it was sent had it (undefined: never) */
  announce99Ms: Array<number | undefined>
  /** Crashes: (observer still up, crashed) pairs that had it in their table, how many saw it gone, and when */
  crash?: { crashed: number, pairs: number, noticed: number, p50Ms: number, maxMs: number }
  /** After a partition heals: ms until sampled observers list every live peer as alive again */
  healMs?: number
  /** Announcements that asked for replicas: ms until the publisher heard that many holders */
  replication?: Replicated
}

export function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function spread (xs: number[]): Spread {
  if (xs.length === 0) return { mean: 0, p99: 0, max: 0 }
  const s = [...xs].sort((a, b) => a - b)
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, p99: s[Math.min(s.length - 1, Math.floor(0.99 * s.length))], max: s[s.length - 1] }
}
