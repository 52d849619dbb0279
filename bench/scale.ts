/**
 * bench/scale: the gossip simulator at 100, 1,000 and 10,000 peers, the first design ("today") and
 * presence v2 side by side, with replication (`publish --replicas 3`) and the spread of a popular
 * root's fetches over its holders; prints per-peer costs and outcomes as tables and exits 1 when v2
 * (or replication, or the spread) misses a target of issue 20 (today's design is shown as far as it runs within its time cap, and
 * what it misses is reported, not failed).
 *
 *     node --expose-gc dist/bench/scale.js [--peers 100,1000,10000] [--designs today,v2] [--seed N] [--max-minutes M] [--json]
 */
import { CONFIG_DEFAULTS } from '../src/defaults.js'
import { fmt, intOption, out, stringOption } from './lib.js'
import { simulate } from './sim/index.js'
import { REPLICA_COPIES_MS, TARGETS, missed, missedReplication, notFlat, partition, replicationTargets, replicationTimes, standard } from './sim/scenario.js'
import { simulateSpread } from './sim/spread.js'
import type { Design, Measured } from './sim/index.js'

const args = process.argv.slice(2)
const sizes = (stringOption(args, '--peers') ?? '100,1000,10000').split(',').map(Number)
if (sizes.some(n => !Number.isInteger(n) || n < 10 || n > 20_000)) throw new Error('--peers takes sizes from 10 to 20000, comma separated')
const designs = (stringOption(args, '--designs') ?? 'today,v2').split(',') as Design[]
if (designs.some(d => d !== 'today' && d !== 'v2')) throw new Error('--designs takes today and v2, comma separated')
const seed = intOption(args, '--seed', 1, 1e9)
const maxWallMs = intOption(args, '--max-minutes', 5, 60) * 60_000
const interval = CONFIG_DEFAULTS.gossip.presenceIntervalMs

const kB = (n: number): string => (n / 1000).toFixed(n < 10_000 ? 2 : 1)
const row = (cells: string[]): string => cells.map((c, i) => i === 0 ? c.padEnd(6) : c.padStart(i === 1 ? 6 : i === cells.length - 1 ? 14 : 10)).join(' ')

function line (design: string, peers: number, r: Measured): string {
  const ann = r.announce99Ms.map(t => t ?? Infinity)
  const repl = replicationTimes(r)
  return row([
    design, String(peers),
    kB(r.bytesInPerSec.presence.mean), kB(r.bytesOutPerSec.presence.mean), kB(r.bytesInPerSec.presence.p99), kB(r.bytesInPerSec.total.mean),
    fmt(r.globalBeatsPerSec), fmt(r.copiesInPerSec.mean), fmt(r.sigChecksPerSec.mean), fmt(r.membershipRows.mean, 0),
    r.membershipBytesPerPeer != null ? fmt(r.membershipBytesPerPeer / 1e6, 2) : 'n/a',
    ann.length > 0 ? fmt(Math.max(...ann) / 1000, 2) : 'n/a',
    r.crash != null ? fmt(r.crash.p50Ms / 1000) : 'n/a', r.crash != null ? `${fmt(r.crash.maxMs / 1000)} (${r.crash.noticed}/${r.crash.pairs})` : 'n/a',
    repl != null ? fmt(repl.p50 / 1000, 2) : 'n/a', repl != null ? fmt(repl.max / 1000, 2) : 'n/a',
    `${fmt(r.simulatedMs / 1000, 0)}/${fmt(r.wallMs / 1000, 0)}${r.truncated ? ' cut' : ''}`
  ])
}

async function main (): Promise<number> {
  const results: Array<{ design: Design, run: string, r: Measured, missed: string[] }> = []
  out(`gossip simulator: presence period ${interval / 1000} s, v2 budget ${CONFIG_DEFAULTS.gossip.presenceBudget} global beats a period (${CONFIG_DEFAULTS.gossip.presenceBudget / (interval / 1000)}/s); 100 ms links (0.5-1.5x), 1% loss, 10 Mbit/s uplinks; seed ${seed}`)
  out(`targets (issue 20): presence <= ${TARGETS.bytesPerSec / 1000} kB/s in and out, <= ${TARGETS.sigChecksPerSec} sig checks/s, <= ${TARGETS.membershipBytes / 1e6} MB membership, announcement to 99% <= ${TARGETS.announce99Ms / 1000} s, crash noticed <= ${TARGETS.crashPeriods} periods (v2: by its neighbours), per-peer cost flat within ${TARGETS.flatWithin}x, 3 replicas heard by the publisher p50 <= ${fmt(replicationTargets().p50 / 1000, 1)} s and max <= ${fmt(replicationTargets().max / 1000, 1)} s (30 real hosts' ${TARGETS.replicationP50Ms / 1000} s and ${TARGETS.replicationMaxMs / 1000} s plus ${fmt(REPLICA_COPIES_MS / 1000, 1)} s for the publisher's 10 Mbit/s uplink to send the 3 copies), busiest holder of a popular root <= ${TARGETS.spreadRatio}x the mean upload`)
  out()
  out(row(['design', 'peers', 'pres in', 'pres out', 'in p99', 'all in', 'beats/s', 'copies/s', 'sig chk/s', 'rows', 'mem MB', 'ann 99% s', 'crash p50', 'crash max s', 'repl p50 s', 'repl max s', 'sim s/wall s']))
  const lastWall = new Map<Design, { peers: number, wallMs: number }>()
  const notRun: number[] = []
  for (const peers of sizes) {
    for (const design of designs) {
      // the first design's work grows with the square of the swarm (every beat to every peer), v2's
      // with the swarm: a size that cannot finish within the cap is not started
      const before = lastWall.get(design)
      const guess = before != null ? before.wallMs * (peers / before.peers) ** (design === 'today' ? 2 : 1) : 0
      if (guess > maxWallMs) {
        out(row([design, String(peers), `not run: ~${fmt(guess / 60_000, 0)} min expected from the ${before?.peers} peer run (cap ${maxWallMs / 60_000} min)`]))
        if (design === 'v2') notRun.push(peers)
        continue
      }
      const r = await simulate(standard(peers, { seed, maxWallMs, design }))
      lastWall.set(design, { peers, wallMs: r.wallMs })
      results.push({ design, run: 'standard', r, missed: [...missed(r, interval), ...missedReplication(r)] })
      out(line(design, peers, r))
      if (design === 'v2' && r.replication != null) {
        const ms = (xs: Array<number | undefined>): string => xs.map(x => x != null ? fmt(x / 1000, 2) : '-').join(' ')
        out(`        replication, each announcement: assigned after ${ms(r.replication.assignMs)} s, first holder heard ${ms(r.replication.firstHeldMs)} s, third ${ms(r.replication.heldMs)} s`)
      }
    }
  }
  out()
  const small = sizes[0]
  for (const design of designs) {
    const p = await simulate(partition(small, { seed, maxWallMs, design }))
    results.push({ design, run: 'partition', r: p, missed: p.healMs == null ? ['views whole after heal'] : [] })
    out(`partition, ${design}, ${small} peers: 30% cut off for 30 s; after it heals, 50 sampled peers call every live peer in their tables alive again (today: list every live peer) after ${p.healMs != null ? fmt(p.healMs / 1000) + ' s' : 'never (within the run)'}`)
  }
  out()
  out('fetch spread: every peer that is not a holder fetches one 1 MiB root from its 20 holders (Poisson arrivals at half their uplinks), sessions ranked by rankPeers; busiest holder\'s upload over the mean, before loads were reported and with them')
  const spreadMissed: number[] = []
  for (const peers of sizes) {
    const [before, now] = [false, true].map(useLoad => simulateSpread({ peers, seed, useLoad }))
    const [seedBefore, seedNow] = [false, true].map(useLoad => simulateSpread({ peers, seed, useLoad, seedNearer: 4 }))
    if (Math.max(now.maxOverMean, seedNow.maxOverMean) > TARGETS.spreadRatio) spreadMissed.push(peers)
    out(`  ${String(peers).padStart(6)} peers, ${now.fetches} fetches: ${fmt(before.maxOverMean, 2)}x -> ${fmt(now.maxOverMean, 2)}x (fetch p50 ${fmt(before.p50Ms / 1000, 1)} -> ${fmt(now.p50Ms / 1000, 1)} s, max ${fmt(before.maxMs / 1000, 1)} -> ${fmt(now.maxMs / 1000, 1)} s, end-game copies ${fmt(100 * now.wasted, 0)}%); one holder 4x nearer everyone: ${fmt(seedBefore.maxOverMean, 2)}x -> ${fmt(seedNow.maxOverMean, 2)}x`)
  }
  out()
  const flat: Record<string, string[]> = {}
  for (const design of designs) {
    const runs = results.filter(x => x.design === design && x.run === 'standard' && !x.r.truncated).map(x => x.r)
    flat[design] = notFlat(runs)
    out(`${design}: per-peer cost from ${runs[0]?.peers ?? '-'} to ${runs[runs.length - 1]?.peers ?? '-'} peers ${flat[design].length === 0 ? `flat within ${TARGETS.flatWithin}x` : `not flat: ${flat[design].join(', ')}`}`)
  }
  for (const { design, run, r, missed: m } of results) if (m.length > 0) out(`missed, ${design} at ${r.peers} peers (${run}): ${m.join(', ')}`)
  if (notRun.length > 0) out(`missed, v2: not run at ${notRun.join(', ')} peers`)
  if (spreadMissed.length > 0) out(`missed, fetch spread: busiest holder over ${TARGETS.spreadRatio}x the mean at ${spreadMissed.join(', ')} peers`)
  if (args.includes('--json')) out(JSON.stringify(results))
  const failed = results.some(x => x.design === 'v2' && x.missed.length > 0) || (flat.v2?.length ?? 0) > 0 || notRun.length > 0 || spreadMissed.length > 0
  return failed ? 1 : 0
}

main().then((code) => { process.exitCode = code }, (err) => {
  process.stderr.write(`bench/scale: ${err.stack ?? err.message}\n`)
  process.exitCode = 2
})
