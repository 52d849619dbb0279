/**
 * bench/names: how fast mirrors that follow a name serve each new version, and how much each
 * fetches per version. Real daemons as processes on loopback: a publisher and `--mirrors` mirrors
 * (default 3) that follow the name of the publisher's key. A site of `--files` files (64) of
 * `--page` KiB (64) is published and named; then, `--updates` times (5), one file changes, the new
 * root is stored on the publisher (untimed), and the clock runs from `name publish` until each
 * mirror's gateway answers `/ipns/<name>/<changed file>` with the new bytes (polled every 20 ms).
 *
 * Run twice in one go: with gossip (`names.gossip` on, the default) and, as the baseline, with
 * names travelling by the DHT alone (the IPNS way: a mirror looks the name up once its TTL has
 * passed). Records carry `--ttl` seconds (5) in both runs; the DHT-only figure is about half a
 * TTL plus a lookup, so the ratio depends on it: it is printed with it.
 *
 *   node dist/bench/names.js [--mirrors N] [--updates N] [--files N] [--page KiB] [--ttl S] [--dir TMPDIR] [--lab]
 *
 * `--lab`: the publisher and mirrors run in the lab instead (a network namespace each, 40 ms RTT
 * and 1% loss on every link; needs root, see docs/lab.md), 7 mirrors by default (names-lab.ts).
 *
 * Bytes: each mirror's fetched bytes for a version (`shoal follow`'s `fetchedBytes`) over the
 * bytes that changed (the file, plus nothing else: the directory node that changed is counted
 * as overhead). The last stdout line is one JSON object.
 */
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createApiClient } from '../src/api/client.js'
import { spawnDaemon } from '../src/api/spawn.js'
import { CONFIGS_DIR, initRepo } from '../src/peer/index.js'
import { fmt, intOption, out, stringOption } from './lib.js'
import { WAN } from '../test/lab/lab.js'
import { destroyLab, labMissing, runInLab } from './names-lab.js'
import type { ApiClient } from '../src/api/client.js'
import type { ImportEntry } from '../src/interface/types.js'
import type { SpawnedDaemon } from '../src/api/spawn.js'

const args = process.argv.slice(2)
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write([
    'usage: node dist/bench/names.js [--mirrors N] [--updates N] [--files N] [--page KiB] [--ttl S] [--dir TMPDIR] [--lab]',
    '  --mirrors N   mirrors following the name (3 on loopback, 7 in the lab)',
    '  --updates N   updates of one file, each timed from name publish to every mirror serving it (5)',
    '  --files N     files in the site (64); --page KiB: size of each (64)',
    '  --ttl S       TTL of the records, seconds (5)',
    '  --dir DIR     where the repos go (the system temp directory)',
    '  --lab         in the lab: a network namespace per host, 40 ms RTT, 1% loss (needs root)',
    'Runs twice, with gossip and with the DHT alone; BENCH_NAMES_DEBUG=1 prints more (docs in bench/README.md).',
    ''
  ].join('\n'))
  process.exit(0)
}
const LAB = args.includes('--lab')
const MIRRORS = intOption(args, '--mirrors', LAB ? 7 : 3, 16)
const UPDATES = intOption(args, '--updates', 5, 100)
const FILES = intOption(args, '--files', 64, 4096)
const PAGE = intOption(args, '--page', 64, 4096) * 1024
const TTL = intOption(args, '--ttl', 5, 3600) * 1000
const parent = stringOption(args, '--dir') ?? os.tmpdir()
const POLL = 20
const DEADLINE = 120_000

interface Peer { daemon: SpawnedDaemon, api: ApiClient }

/** Every daemon started, so that a run cut off (a signal, a closed stdout) leaves none behind */
const spawned = new Set<SpawnedDaemon>()
let runDir: string | undefined
const killAll = (): void => {
  for (const d of spawned) if (d.running()) d.child.kill('SIGKILL')
  if (runDir != null) rmSync(runDir, { recursive: true, force: true })
}
process.on('exit', killAll)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGPIPE'] as const) {
  process.once(signal, () => { void destroyLab().catch(() => {}).finally(() => { killAll(); process.exit(130) }) })
}
process.stdout.on('error', () => { killAll(); process.exit(2) })

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function quantile (xs: number[], q: number): number | undefined {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]
}

async function start (repo: string, gossip: boolean): Promise<Peer> {
  const config = JSON.parse(await fs.readFile(path.join(CONFIGS_DIR, 'local.json'), 'utf8'))
  config.addresses.listen = ['/ip4/127.0.0.1/tcp/0']
  config.discovery.mdns = false
  config.names.gossip = gossip
  await initRepo(repo, { configText: JSON.stringify(config, null, 2) })
  const daemon = await spawnDaemon({ repo, args: ['--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--gateway', '127.0.0.1:0'] })
  spawned.add(daemon)
  const token = (await fs.readFile(path.join(repo, 'api.token'), 'utf8')).trim()
  return { daemon, api: createApiClient({ address: daemon.api, token }) }
}

async function * site (files: Buffer[]): AsyncGenerator<ImportEntry> {
  yield { path: 'site', kind: 'directory' }
  for (let i = 0; i < files.length; i++) {
    const bytes = files[i]
    yield { path: `site/page-${i}.bin`, kind: 'file', content: (async function * () { yield bytes })() }
  }
}

async function serves (gateway: string, name: string, file: number, bytes: Buffer): Promise<boolean> {
  try {
    const res = await fetch(`http://${gateway}/ipns/${name}/page-${file}.bin`, { signal: AbortSignal.timeout(5000) })
    if (res.status !== 200) {
      await res.arrayBuffer()
      return false
    }
    return Buffer.from(await res.arrayBuffer()).equals(bytes)
  } catch {
    return false
  }
}

/** One run: latencies (ms, one per mirror per update) and fetched/changed ratios */
async function run (dir: string, gossip: boolean): Promise<{ latencies: number[], ratios: number[] }> {
  const peers: Peer[] = []
  try {
    const publisher = await start(path.join(dir, 'publisher'), gossip)
    peers.push(publisher)
    for (let i = 0; i < MIRRORS; i++) peers.push(await start(path.join(dir, `mirror-${i}`), gossip))
    const mirrors = peers.slice(1)
    for (const m of mirrors) await m.api.connect(publisher.daemon.addresses[0])
    const { id: name } = await publisher.api.keyGen('site')
    for (const m of mirrors) await m.api.follow(name)
    const files = Array.from({ length: FILES }, () => randomBytes(PAGE))
    const first = await publisher.api.publish(site(files), { announce: false })
    await publisher.api.namePublish(first.cid, { key: 'site', ttlMs: TTL })
    const deadline = Date.now() + DEADLINE
    for (const m of mirrors) {
      while (!await serves(m.daemon.gateway as string, name, 0, files[0])) {
        if (Date.now() > deadline) throw new Error('a mirror did not serve the first version in time')
        await sleep(100)
      }
    }
    const latencies: number[] = []
    const ratios: number[] = []
    const watching = new AbortController()
    if (process.env.BENCH_NAMES_DEBUG != null) {
      void (async () => {
        for await (const w of mirrors[0].api.watchNames({ signal: watching.signal })) out(`    mirror 0 took sequence ${w.sequence} from ${w.source} at ${w.time}`)
      })().catch(() => {})
    }
    for (let u = 0; u < UPDATES; u++) {
      const changed = (u * 7 + 1) % FILES
      files[changed] = randomBytes(PAGE)
      const next = await publisher.api.publish(site(files), { announce: false })
      const t0 = Date.now()
      if (process.env.BENCH_NAMES_DEBUG != null) out(`    update ${u}: publish at ${t0}`)
      const pub = await publisher.api.namePublish(next.cid, { key: 'site', ttlMs: TTL })
      await Promise.all(mirrors.map(async (m) => {
        while (!await serves(m.daemon.gateway as string, name, changed, files[changed])) {
          if (Date.now() - t0 > DEADLINE) throw new Error(`a mirror did not serve update ${u} within ${DEADLINE} ms`)
          await sleep(POLL)
        }
        latencies.push(Date.now() - t0)
        const [f] = await m.api.following()
        const v = f.versions.find(x => x.sequence === pub.sequence)
        if (v?.fetchedBytes != null) ratios.push(v.fetchedBytes / PAGE)
        if (process.env.BENCH_NAMES_DEBUG != null) out(`    update ${u}: version fetched at +${(v?.at ?? NaN) - t0} ms, served at +${Date.now() - t0} ms`)
      }))
    }
    watching.abort()
    return { latencies, ratios }
  } finally {
    await Promise.all(peers.map(async (p) => {
      p.api.close()
      await p.daemon.stop('SIGTERM')
    }))
  }
}

async function main (): Promise<number> {
  const dir = await fs.mkdtemp(path.join(parent, 'shoal-bench-names-'))
  runDir = dir
  try {
    const where = LAB ? `in the lab (${WAN.delayMs * 2} ms RTT, ${WAN.loss * 100}% loss)` : 'on loopback'
    if (LAB) {
      const missing = await labMissing()
      if (missing != null) throw new Error(`--lab: ${missing}`)
    }
    out(`bench/names: 1 publisher, ${MIRRORS} mirrors ${where}; a site of ${FILES} files of ${PAGE / 1024} KiB; ${UPDATES} updates of one file; records with a TTL of ${TTL / 1000} s`)
    // the machines are shared: the load says how much of a latency is waiting for a core
    out(`  load average at start: ${os.loadavg().map(l => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores`)
    const runOne = async (sub: string, gossip: boolean): Promise<{ latencies: number[], ratios: number[] }> => LAB
      ? runInLab({ dir: path.join(dir, sub), mirrors: MIRRORS, updates: UPDATES, files: FILES, page: PAGE, ttlMs: TTL, gossip, log: out })
      : run(path.join(dir, sub), gossip)
    const g = await runOne('gossip', true)
    const d = await runOne('dht', false)
    const row = (label: string, r: { latencies: number[], ratios: number[] }): void => {
      out(`  ${label}: publish -> every mirror serving: p50 ${fmt(quantile(r.latencies, 0.5), 0)} ms, p99 ${fmt(quantile(r.latencies, 0.99), 0)} ms (${r.latencies.length} samples); fetched/changed bytes: max ${fmt(Math.max(...r.ratios), 3)}, median ${fmt(quantile(r.ratios, 0.5), 3)}`)
    }
    row('gossip  ', g)
    row('DHT only', d)
    const ratio = (quantile(d.latencies, 0.5) ?? NaN) / (quantile(g.latencies, 0.5) ?? NaN)
    out(`  DHT-only p50 / gossip p50: ${fmt(ratio, 1)}x (TTL ${TTL / 1000} s)`)
    out(`  load average at end: ${os.loadavg().map(l => l.toFixed(1)).join(' ')}`)
    out(JSON.stringify({
      where: LAB ? 'lab' : 'loopback',
      mirrors: MIRRORS,
      updates: UPDATES,
      ttlMs: TTL,
      gossip: { p50: quantile(g.latencies, 0.5), p99: quantile(g.latencies, 0.99), bytesRatioMax: Math.max(...g.ratios) },
      dht: { p50: quantile(d.latencies, 0.5), p99: quantile(d.latencies, 0.99), bytesRatioMax: Math.max(...d.ratios) },
      dhtOverGossipP50: ratio
    }))
    return 0
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}

main().then((code) => { process.exitCode = code }, (err) => {
  process.stderr.write(`bench/names: ${String(err?.stack ?? err)}\n`)
  process.exitCode = 2
})
