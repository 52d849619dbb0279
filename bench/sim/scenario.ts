/** The scenario `bench/scale` and the test run, and the targets (docs/gossip.md) */
import type { SimInit, SimResult } from './swarm.js'

const second = 1000

/**
 * N peers (either design): four periods of 10 s with 1% crashes, 1% churn and four announcements of
 * a 1 MiB file, each asking for 3 replicas of the 10 peers whose policy is on. (Every replicator
 * volunteers to the whole swarm for every announcement: with 1% of 10,000 peers on, the volunteers
 * alone would be ~10 messages a second here for every peer to check, past the 5 a second target.)
 */
export function standard (peers: number, over: Partial<SimInit> = {}): SimInit {
  const churn = Math.max(1, Math.round(peers / 100))
  return {
    peers,
    replicas: 3,
    replicators: 10,
    durationMs: 50 * second,
    measureFromMs: 12 * second,
    announceAtMs: [14, 20, 26, 32].map(s => s * second),
    crash: { atMs: 15 * second, count: Math.max(1, Math.round(peers / 100)) },
    churn: { fromMs: 12 * second, toMs: 40 * second, leaves: churn, joins: churn },
    ...over
  }
}

/** A partition of 30% of the peers for 30 s, then how long until views are whole again */
export function partition (peers: number, over: Partial<SimInit> = {}): SimInit {
  return { peers, durationMs: 110 * second, measureFromMs: 12 * second, partition: { atMs: 15 * second, healAtMs: 45 * second, fraction: 0.3 }, ...over }
}

/** Issue 20's targets, checked at every size */
export const TARGETS = {
  /** Presence and control traffic per peer, in and out, duplicates included */
  bytesPerSec: 2000,
  sigChecksPerSec: 5,
  membershipBytes: 10e6,
  announce99Ms: 2 * second,
  /** A crash is noticed within this many periods */
  crashPeriods: 3,
  /** Per-peer cost (presence bytes in and out, signature checks) from the smallest size to the largest, at most this ratio either way */
  flatWithin: 2,
  /**
   * `publish --replicas 3`: until the publisher has heard 3 holders, median and largest over the
   * announcements. These are issue 20's figures for 30 real hosts on loopback; in the simulator,
   * where they must be "of the same order", each is checked with `REPLICA_COPIES_MS` added: what
   * the publisher's simulated 10 Mbit/s uplink needs to send the three copies, which loopback
   * does not have (`replicationTargets`)
   */
  replicationP50Ms: 3 * second,
  replicationMaxMs: 6 * second,
  /** Fetches of a popular root: bytes uploaded by the busiest holder over the holders' mean */
  spreadRatio: 2
}

/** The per-peer costs whose curve over swarm sizes must be flat */
export function costs (r: SimResult): Record<string, number> {
  return { 'bytes in/s': r.bytesInPerSec.presence.mean, 'bytes out/s': r.bytesOutPerSec.presence.mean, 'sig checks/s': r.sigChecksPerSec.mean }
}

/** Costs whose largest over the runs is more than TARGETS.flatWithin times the smallest, with the ratio */
export function notFlat (runs: SimResult[]): string[] {
  const m: string[] = []
  if (runs.length < 2) return m
  for (const k of Object.keys(costs(runs[0]))) {
    const xs = runs.map(r => costs(r)[k])
    const ratio = Math.max(...xs) / Math.max(Math.min(...xs), 1e-9)
    if (ratio > TARGETS.flatWithin) m.push(`${k} ${ratio.toFixed(1)}x`)
  }
  return m
}

/** Three copies of the standard scenario's 1 MiB file through the publisher's 10 Mbit/s uplink, ms */
export const REPLICA_COPIES_MS = 3 * (1 << 20) / (10e6 / 8) * 1000

/** The replication targets as the simulator checks them: the real hosts' plus the uplink's three copies */
export function replicationTargets (): { p50: number, max: number } {
  return { p50: TARGETS.replicationP50Ms + REPLICA_COPIES_MS, max: TARGETS.replicationMaxMs + REPLICA_COPIES_MS }
}

/** Median and largest of the times announcements took to reach their replicas (Infinity: never) */
export function replicationTimes (r: SimResult): { p50: number, max: number } | undefined {
  if (r.replication == null || r.replication.heldMs.length === 0) return undefined
  const t = r.replication.heldMs.map(x => x ?? Infinity).sort((a, b) => a - b)
  return { p50: t[Math.floor((t.length - 1) / 2)], max: t[t.length - 1] }
}

/** The replication targets a result misses, by name */
export function missedReplication (r: SimResult): string[] {
  const t = replicationTimes(r)
  if (t == null) return []
  const m: string[] = []
  const target = replicationTargets()
  if (t.p50 > target.p50) m.push('replication p50')
  if (t.max > target.max) m.push('replication max')
  return m
}

/** The presence and announcement targets a result misses, by name */
export function missed (r: SimResult & { membershipBytesPerPeer?: number }, intervalMs: number): string[] {
  const m: string[] = []
  const presence = Math.max(r.bytesInPerSec.presence.mean, r.bytesOutPerSec.presence.mean)
  if (presence > TARGETS.bytesPerSec) m.push('bytes/s')
  if (r.sigChecksPerSec.mean > TARGETS.sigChecksPerSec) m.push('sig checks/s')
  if ((r.membershipBytesPerPeer ?? 0) > TARGETS.membershipBytes) m.push('memory')
  if (r.announce99Ms.some(t => t == null || t > TARGETS.announce99Ms)) m.push('announce 99%')
  if (r.crash != null && (r.crash.noticed < r.crash.pairs || r.crash.maxMs > TARGETS.crashPeriods * intervalMs)) m.push('crash noticed')
  if (r.truncated) m.push('did not finish')
  return m
}
