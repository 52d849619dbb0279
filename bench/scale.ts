/**
 * bench/scale: the gossip simulator at 100, 1,000 (and more) peers, today's design; prints the
 * per-peer costs and outcomes as a table and exits 1 when a target of issue 20 is missed.
 *
 *     node --expose-gc dist/bench/scale.js [--peers 100,1000] [--seed N] [--max-minutes M] [--json]
 */
import { CONFIG_DEFAULTS } from '../src/defaults.js'
import { fmt, intOption, out, stringOption } from './lib.js'
import { simulate } from './sim/index.js'
import { TARGETS, missed, partition, standard } from './sim/scenario.js'
import type { Measured } from './sim/index.js'

const args = process.argv.slice(2)
const sizes = (stringOption(args, '--peers') ?? '100,1000').split(',').map(Number)
if (sizes.some(n => !Number.isInteger(n) || n < 10 || n > 20_000)) throw new Error('--peers takes sizes from 10 to 20000, comma separated')
const seed = intOption(args, '--seed', 1, 1e9)
const maxWallMs = intOption(args, '--max-minutes', 5, 60) * 60_000

const kB = (n: number): string => (n / 1000).toFixed(n < 10_000 ? 2 : 1)
const row = (cells: string[]): string => cells.map((c, i) => i === 0 ? c.padEnd(8) : c.padStart(i === 1 ? 6 : 12)).join(' ')

async function main (): Promise<number> {
  const results: Array<{ run: string, r: Measured, missed: string[] }> = []
  out(`gossip simulator, today's design: presence every ${CONFIG_DEFAULTS.gossip.presenceIntervalMs / 1000} s, 100 ms links (0.5-1.5x), 1% loss, 10 Mbit/s uplinks, seed ${seed}`)
  out(`targets (issue 20): presence <= ${TARGETS.bytesPerSec / 1000} kB/s in and out, <= ${TARGETS.sigChecksPerSec} sig checks/s, <= ${TARGETS.membershipBytes / 1e6} MB membership, announcement to 99% <= ${TARGETS.announce99Ms / 1000} s, crash noticed <= ${TARGETS.crashPeriods} periods`)
  out()
  out(row(['design', 'peers', 'in kB/s', 'out kB/s', 'in p99', 'presence in', 'copies/s', 'dup %', 'sig chk/s', 'rows', 'mem/peer MB', 'ann 99% s', 'crash p50 s', 'crash max s', 'sim s/wall s']))
  for (const peers of sizes) {
    const r = await simulate(standard(peers, { seed, maxWallMs }))
    const m = missed(r, CONFIG_DEFAULTS.gossip.presenceIntervalMs)
    results.push({ run: 'standard', r, missed: m })
    const ann = r.announce99Ms.map(t => t ?? Infinity)
    out(row([
      'today', String(peers),
      kB(r.bytesInPerSec.total.mean), kB(r.bytesOutPerSec.total.mean), kB(r.bytesInPerSec.total.p99), kB(r.bytesInPerSec.presence.mean),
      fmt(r.copiesInPerSec.mean), fmt(100 * r.duplicateFraction, 0), fmt(r.sigChecksPerSec.mean), fmt(r.membershipRows.mean, 0),
      r.membershipBytesPerPeer != null ? fmt(r.membershipBytesPerPeer / 1e6, 2) : 'n/a',
      `${fmt(Math.max(...ann) / 1000, 2)}`,
      r.crash != null ? fmt(r.crash.p50Ms / 1000) : 'n/a', r.crash != null ? `${fmt(r.crash.maxMs / 1000)} (${r.crash.noticed}/${r.crash.pairs})` : 'n/a',
      `${fmt(r.simulatedMs / 1000, 0)}/${fmt(r.wallMs / 1000, 0)}${r.truncated ? ' cut' : ''}`
    ]))
  }
  const small = sizes[0]
  const p = await simulate(partition(small, { seed, maxWallMs }))
  results.push({ run: 'partition', r: p, missed: p.healMs == null ? ['views whole after heal'] : [] })
  out()
  out(`partition, ${small} peers: 30% cut off for 30 s; after it heals, 50 sampled peers list every live peer as alive again after ${p.healMs != null ? fmt(p.healMs / 1000) + ' s' : 'never (within the run)'}`)
  out()
  for (const { run, r, missed: m } of results) if (m.length > 0) out(`missed at ${r.peers} peers (${run}): ${m.join(', ')}`)
  if (args.includes('--json')) out(JSON.stringify(results))
  return results.some(x => x.missed.length > 0) ? 1 : 0
}

main().then((code) => { process.exitCode = code }, (err) => {
  process.stderr.write(`bench/scale: ${err.stack ?? err.message}\n`)
  process.exitCode = 2
})
