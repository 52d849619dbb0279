/** What a run measured, from its counters and its peers' presence cores */
import { ANNOUNCE, CONTENT, EPOCH, NEIGHBOUR, PRESENCE, spread } from './types.js'
import type { Msg } from './gossipsub.js'
import type { Swarm } from './swarm.js'
import type { SimResult, Spread } from './types.js'

export function summarise (s: Swarm, started: number, truncated: boolean, announced: Msg[]): SimResult {
  // pairs whose observer left before it could notice do not count
  const pairs = s.noticed.length + [...s.crashPairs].filter(k => s.peers[Number(k.split(':')[0])].up).length
  // a run cut short before its window opened has no rates to give
  const secs = s.wheel.now > s.init.measureFromMs ? (s.wheel.now - s.init.measureFromMs) / 1000 : NaN
  const steady = s.peers.filter(p => p.steady)
  const c = s.counters
  const per = (f: (i: number) => number): Spread => spread(steady.map(p => f(p.i) / secs))
  // gossip and neighbour beats, not content
  const sum = (a: Float64Array[], i: number): number => a.slice(0, CONTENT).reduce((n, x) => n + x[i], 0)
  const copies = steady.reduce((n, p) => n + c.copiesIn[p.i], 0)
  const dups = steady.reduce((n, p) => n + c.dupsIn[p.i], 0)
  const noticed = [...s.noticed].sort((a, b) => a - b)
  return {
    peers: s.init.peers,
    steadyPeers: steady.length,
    simulatedMs: s.wheel.now,
    wallMs: Date.now() - started,
    events: s.events,
    truncated,
    design: s.init.design,
    bytesInPerSec: { total: per(i => sum(c.bytesIn, i)), presence: per(i => c.bytesIn[PRESENCE][i] + c.bytesIn[NEIGHBOUR][i]), announce: per(i => c.bytesIn[ANNOUNCE][i]), neighbour: per(i => c.bytesIn[NEIGHBOUR][i]) },
    bytesOutPerSec: { total: per(i => sum(c.bytesOut, i)), presence: per(i => c.bytesOut[PRESENCE][i] + c.bytesOut[NEIGHBOUR][i]), announce: per(i => c.bytesOut[ANNOUNCE][i]), neighbour: per(i => c.bytesOut[NEIGHBOUR][i]) },
    globalBeatsPerSec: s.globalBeats / secs,
    ...(s.v2 ? { estimate: spread(steady.map(p => p.core?.swarmSize(EPOCH + s.wheel.now) ?? 0)) } : {}),
    copiesInPerSec: per(i => c.copiesIn[i]),
    duplicateFraction: copies > 0 ? dups / copies : 0,
    sigChecksPerSec: per(i => c.sigChecks[i]),
    membershipRows: spread(steady.map(p => p.core?.rows ?? 0)),
    announce99Ms: announced.map(m => m.at99),
    ...(s.init.crash != null ? { crash: { crashed: s.crashedAt.size, pairs, noticed: noticed.length, p50Ms: noticed[Math.floor(noticed.length / 2)] ?? NaN, maxMs: noticed[noticed.length - 1] ?? NaN } } : {}),
    ...(s.healMs != null ? { healMs: s.healMs } : {}),
    ...((s.init.replicas ?? 0) > 0 ? { replication: s.replication.result() } : {})
  }
}
