/**
 * bench/nat: figures for NAT traversal in the lab (docs/public-swarm.md): time to a reachability
 * verdict and to the first relay reservation; fetch throughput between two public peers
 * (direct, the baseline), between two NATed peers through a relay with unlimited circuits, and
 * from a NATed peer to a public one after the connection was made direct (the NATed side dials
 * back), as ratios to the direct figure; per NATed peer, DCUtR's hole punches and connection
 * reversals (attempts, successes, and the failures by reason), read from the daemons' DCUtR
 * logs. Needs root and network namespaces.
 *
 *   node dist/bench/nat.js [--size MiB] [--dir TMPDIR] [--subnet routable|private] [--keep]
 *
 * The lab's internet is `ROUTABLE_SUBNET` (a global range, used only inside the lab's namespaces)
 * unless `--subnet private` puts it back on the lab's default private /24: DCUtR and AutoNAT v2
 * skip private addresses, so only the routable internet lets them try. `--keep` leaves the
 * daemons' logs in TMPDIR and prints where.
 *
 * Every link is unlimited: all hosts share one machine's cores, so the ratios say what the relay
 * hop costs in CPU and copies, not what it costs on a real network.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Lab, labNat, labSupport, ROUTABLE_SUBNET } from '../test/lab/lab.js'
import { fmt, intOption, out, stringOption } from './lib.js'

const MiB = 1024 * 1024
const args = process.argv.slice(2)
const sizeMiB = intOption(args, '--size', 64, 4096)
const parent = stringOption(args, '--dir') ?? os.tmpdir()
const subnetName = stringOption(args, '--subnet') ?? 'routable'
if (subnetName !== 'routable' && subnetName !== 'private') throw new Error('--subnet is routable or private')
const keep = args.includes('--keep')
const [RELAY, PUB1, PUB2, PP, SYM, PP2] = [0, 1, 2, 3, 4, 5]

function json (stdout: string): any {
  const lines = stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1] ?? '')
}

interface DcutrCount {
  punchAttempts: number
  punchSuccesses: number
  reversalAttempts: number
  reversalSuccesses: number
  /** reason to how often */
  failures: Record<string, number>
}

/** DCUtR in one daemon's log (DEBUG=libp2p:dcutr*) */
function dcutrCount (text: string): DcutrCount {
  const n = (re: RegExp): number => (text.match(re) ?? []).length
  const failures: Record<string, number> = {}
  const count = (reason: string): void => { failures[reason] = (failures[reason] ?? 0) + 1 }
  for (const line of text.split('\n')) {
    let m: RegExpMatchArray | null
    if (/had no dialable multiaddrs|did not have any dialable multiaddrs/.test(line)) count('the other side offered no public address (no dial)')
    else if (/not attempting unilateral connection upgrade/.test(line)) count('reversal: the other side has no public address (no dial)')
    else if ((m = line.match(/(?:error while attempting DCUtR on attempt \d+ of \d+|unilateral connection upgrade to \S+ on addresses .* failed) - (.*)$/)) != null) {
      // without addresses, peer ids and times, so alike failures count together
      count(m[1].replace(/\/ip[46]\/\S+|\d+\.\d+\.\d+\.\d+(:\d+)?|12D3Koo\w+|\d+ms/g, '_').slice(0, 100))
    }
  }
  return {
    punchAttempts: n(/B sending connect/g),
    punchSuccesses: n(/DCUtR to \S+ succeeded/g),
    reversalAttempts: n(/attempting unilateral connection upgrade to/g),
    reversalSuccesses: n(/unilateral connection upgrade to \S+ succeeded/g),
    failures
  }
}

async function main (): Promise<number> {
  const support = await labSupport()
  if (!support.ok) {
    out(`bench/nat: the lab cannot run here: ${support.reason ?? ''}`)
    return 2
  }
  const dir = await fs.mkdtemp(path.join(parent, 'shoal-bench-nat-'))
  const logs = path.join(dir, 'logs')
  await fs.mkdir(logs)
  // the daemons log DCUtR's steps, counted at the end
  process.env.SHOAL_LAB_LOGS = logs
  process.env.DEBUG = 'libp2p:dcutr*,shoal:host:nat*'
  let lab: Lab | undefined
  const stop = (): void => { void lab?.destroy().finally(() => process.exit(130)) }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    lab = await Lab.create({ dir: path.join(dir, 'lab'), hosts: 3, ...(subnetName === 'routable' ? { subnet: ROUTABLE_SUBNET } : {}) })
    const L = lab
    await L.addHost({}, { nat: 'port-preserving' })
    await L.addHost({}, { nat: 'symmetric' })
    await L.addHost({}, { nat: 'port-preserving' })
    out(`bench/nat: a relay with unlimited circuits and 2 public peers on the lab's internet (${L.internet}, ${subnetName}), 2 peers behind port-preserving NATs and 1 behind a symmetric NAT; unlimited links; ${sizeMiB} MiB per fetch`)
    const cli = async (i: number, a: string[], timeoutMs = 600_000): Promise<any> => {
      const r = await L.cli(i, ['--json', ...a], { timeoutMs })
      if (r.code !== 0) throw new Error(`host ${i}: shoal ${a.join(' ')}: ${r.stderr.trim().split('\n').pop() ?? ''}`)
      return json(r.stdout)
    }
    const relay = await L.start(RELAY, c => { labNat(c, L); c.dht.clientMode = false; c.relay.client = false; c.relay.service = true; c.relay.circuitBytes = 0; c.relay.circuitDurationMs = 0 })
    for (const i of [PUB1, PUB2]) await L.start(i, c => { labNat(c, L); c.relay.client = false; c.bootstrap = [relay.address] })

    /** ms from the daemon's ready line until `done(id)` holds, polling every 50 ms */
    const until = async (i: number, t0: number, done: (id: any) => boolean): Promise<number> => {
      const deadline = Date.now() + 60_000
      while (Date.now() < deadline) {
        if (done(await cli(i, ['id']))) return Date.now() - t0
        await new Promise(resolve => setTimeout(resolve, 50))
      }
      throw new Error(`host ${i}: not within 60 s`)
    }
    const verdicts: Record<string, number> = {}
    const reservations: Record<string, number> = {}
    for (const [i, kind] of [[PP, 'port-preserving'], [SYM, 'symmetric'], [PP2, 'port-preserving 2']] as const) {
      await L.start(i, c => { labNat(c, L); c.relay.client = true; c.relay.relays = [relay.address]; c.bootstrap = [relay.address] })
      const t0 = Date.now()
      verdicts[kind] = await until(i, t0, id => id.reachability === 'private')
      reservations[kind] = await until(i, t0, id => id.relays.length > 0)
    }

    const fetchMs = async (from: number, to: number): Promise<{ ms: number, via: string }> => {
      const file = path.join(dir, `f-${from}-${to}.bin`)
      await fs.writeFile(file, randomBytes(sizeMiB * MiB))
      const { cid } = await cli(from, ['publish', file])
      await fs.rm(file)
      const t0 = Date.now()
      await cli(to, ['fetch', cid])
      const ms = Date.now() - t0
      const peers = (await cli(to, ['peers'])).peers
      const conn = peers.find((p: any) => p.peerId === L.hosts[from].daemon!.peerId)
      return { ms, via: conn == null ? 'gone' : conn.addresses.some((a: string) => !a.includes('/p2p-circuit')) ? 'direct' : 'relayed' }
    }
    const direct = await fetchMs(PUB1, PUB2)
    const relayed = await fetchMs(PP, SYM)
    const upgraded = await fetchMs(PP, PUB1)
    const punchPair = await fetchMs(PP, PP2)
    const rate = (ms: number): number => sizeMiB * MiB / 1e6 / (ms / 1000)

    // DCUtR in the daemons' logs, its two ways apart: a hole punch is a CONNECT sent (role B) and
    // its simultaneous dials; a reversal (the "unilateral upgrade") is a direct dial of the other
    // side's public address. Failures are counted by reason, as the log line gives it.
    const punches: Record<string, DcutrCount> = {}
    for (const [i, kind] of [[PP, 'port-preserving'], [SYM, 'symmetric'], [PP2, 'port-preserving 2']] as const) {
      punches[kind] = dcutrCount(await fs.readFile(path.join(logs, `host-${i}.log`), 'utf8').catch(() => ''))
    }
    const result = {
      sizeMiB,
      verdictMs: verdicts,
      firstReservationMs: reservations,
      directMBps: rate(direct.ms),
      relayedMBps: rate(relayed.ms),
      relayedRatio: direct.ms / relayed.ms,
      relayedPath: relayed.via,
      upgradedMBps: rate(upgraded.ms),
      upgradedRatio: direct.ms / upgraded.ms,
      upgradedPath: upgraded.via,
      portPreservingPairPath: punchPair.via,
      holePunching: punches
    }
    out('| figure | value |')
    out('|---|---|')
    for (const kind of Object.keys(verdicts)) out(`| ${kind} NAT: private verdict / first reservation after ready | ${verdicts[kind]} ms / ${reservations[kind]} ms |`)
    out(`| fetch ${sizeMiB} MiB public -> public (direct, baseline) | ${fmt(rate(direct.ms))} MB/s (1.00) |`)
    out(`| fetch ${sizeMiB} MiB NATed -> NATed through the relay (${relayed.via}) | ${fmt(rate(relayed.ms))} MB/s (${fmt(result.relayedRatio, 2)}) |`)
    out(`| fetch ${sizeMiB} MiB NATed -> public, connection made direct (${upgraded.via}) | ${fmt(rate(upgraded.ms))} MB/s (${fmt(result.upgradedRatio, 2)}) |`)
    out(`| port-preserving <-> port-preserving after ${sizeMiB} MiB | ${punchPair.via} |`)
    for (const [kind, p] of Object.entries(punches)) {
      const why = Object.entries(p.failures).map(([reason, n]) => `${n}x ${reason}`).join('; ')
      out(`| DCUtR, ${kind} NAT: hole punches / reversals (successes of attempts) | ${p.punchSuccesses} of ${p.punchAttempts} / ${p.reversalSuccesses} of ${p.reversalAttempts} |`)
      if (why !== '') out(`| DCUtR, ${kind} NAT: failures | ${why} |`)
    }
    out(JSON.stringify(result))
    return 0
  } finally {
    await lab?.destroy()
    if (keep) out(`bench/nat: the daemons' logs are in ${logs}`)
    else await fs.rm(dir, { recursive: true, force: true })
  }
}

main().then((code) => { process.exitCode = code }, (err) => { out(`bench/nat failed: ${err.message}`); process.exitCode = 2 })
