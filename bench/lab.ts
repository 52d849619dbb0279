/**
 * bench/lab: figures for the lab's 8-host network (40 ms RTT, 1% loss from netem, or from nftables where the kernel has no netem):
 * publish-to-fetchable time, fetch throughput of a file from 1 and from 4 seeders (and their
 * ratio), and announcement latency p50/p99. Needs root and network namespaces (see docs/lab.md).
 *
 *   node dist/bench/lab.js [--size MiB] [--announcements N] [--rate MBIT] [--dir TMPDIR]
 *
 * `--rate` caps the links of the seeders (hosts 0-5) at MBIT Mbit/s each; the fetchers' links
 * (hosts 6 and 7) stay unlimited. Without it every link is unlimited and, all hosts sharing one
 * machine's cores, throughput is bound by CPU rather than by the network.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Lab, WAN, labSupport } from '../test/lab/lab.js'
import { SHOAL_BIN } from '../test/helpers/cli.js'
import { fmt, intOption, out, stringOption } from './lib.js'

const MiB = 1024 * 1024
const HOSTS = 8
const args = process.argv.slice(2)
const sizeMiB = intOption(args, '--size', 64, 4096)
const announcements = intOption(args, '--announcements', 30, 1000)
const parent = stringOption(args, '--dir') ?? os.tmpdir()
const rateMbit = args.includes('--rate') ? intOption(args, '--rate', 0, 100_000) : undefined

function quantile (xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]
}

function json (stdout: string): any {
  const lines = stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1] ?? '')
}

async function main (): Promise<number> {
  const support = await labSupport()
  if (!support.ok) {
    out(`bench/lab: the lab cannot run here: ${support.reason ?? ''}`)
    return 2
  }
  const dir = await fs.mkdtemp(path.join(parent, 'shoal-bench-lab-'))
  let lab: Lab | undefined
  const stop = (): void => { void lab?.destroy().finally(() => process.exit(130)) }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    lab = await Lab.create({ dir: path.join(dir, 'lab'), hosts: HOSTS, profile: i => ({ ...WAN, ...(rateMbit != null && i < 6 ? { rateMbit } : {}) }) })
    const L = lab
    out(`bench/lab: ${HOSTS} hosts, 40 ms RTT (20 ms each way, 2 ms jitter), 1% loss, ${rateMbit != null ? `seeder links (hosts 0-5) at ${rateMbit} Mbit/s, fetchers unlimited` : 'unlimited rate'}`)
    for (const note of L.notes) out(`  note: ${note}`)
    const boot = await L.start(0)
    const boot2 = await L.start(1, c => { c.bootstrap = [boot.address] })
    await Promise.all([2, 3, 4, 5, 6, 7].map(async i => L.start(i, c => { c.bootstrap = [boot.address, boot2.address] })))
    const cli = async (i: number, a: string[], timeoutMs = 600_000): Promise<any> => {
      const r = await L.cli(i, ['--json', ...a], { timeoutMs })
      if (r.code !== 0) throw new Error(`host ${i}: shoal ${a.join(' ')}: ${r.stderr.trim().split('\n').pop() ?? ''}`)
      return json(r.stdout)
    }
    const until = Date.now() + 60_000
    while ((await cli(7, ['peers'])).members.filter((m: any) => m.state === 'alive').length < HOSTS) {
      if (Date.now() > until) throw new Error('the swarm did not form within 60 s')
      await new Promise(resolve => setTimeout(resolve, 500))
    }

    // 1. publish-to-fetchable: from the start of `publish` on host 0 until host 7 finds it in the
    //    DHT and has fetched it (a 1 MiB file)
    const small = path.join(dir, 'small.bin')
    await fs.writeFile(small, randomBytes(MiB))
    const t0 = Date.now()
    const { cid: smallCid } = await cli(0, ['publish', small])
    const published = Date.now() - t0
    let findable = 0
    while (true) {
      const found = await cli(7, ['find', smallCid, '--timeout', '5', '--limit', '1'])
      if (found.providers.length > 0) { findable = Date.now() - t0; break }
      if (Date.now() - t0 > 60_000) throw new Error('not findable within 60 s')
    }
    await cli(7, ['fetch', smallCid])
    const fetchable = Date.now() - t0

    // 2. throughput: one file from host 0 alone, then another from hosts 0-3 (the same bytes
    //    published on each give the same CID), both fetched on hosts 7 and 6
    const big = async (name: string): Promise<string> => {
      const f = path.join(dir, name)
      const fh = await fs.open(f, 'w')
      for (let off = 0; off < sizeMiB * MiB; off += 16 * MiB) await fh.write(randomBytes(Math.min(16 * MiB, sizeMiB * MiB - off)))
      await fh.close()
      return f
    }
    const one = await big('one.bin')
    const { cid: oneCid } = await cli(0, ['publish', one, '--no-announce'])
    const four = await big('four.bin')
    const fourCids = await Promise.all([0, 1, 2, 3].map(async i => (await cli(i, ['publish', four, '--no-announce'])).cid))
    const fetchMs = async (host: number, cid: string): Promise<number> => (await cli(host, ['fetch', cid])).durationMs
    const fromOne = await fetchMs(7, oneCid)
    const fromFour = await fetchMs(6, fourCids[0])
    const rate = (ms: number): number => sizeMiB * MiB / 1e6 / (ms / 1000)

    // 3. announcement latency: every other host runs `shoal watch`; host 0 publishes N small files;
    //    latency is arrival at the watcher (stamped by this process) minus the announcement's time
    const latencies: number[] = []
    const watchers = [1, 2, 3, 4, 5, 6, 7].map((i) => {
      const child = spawn('ip', ['netns', 'exec', L.hosts[i].ns, process.execPath, SHOAL_BIN, '--repo', L.hosts[i].repo, '--json', 'watch'], { stdio: ['ignore', 'pipe', 'ignore'] })
      let buf = ''
      child.stdout.on('data', (d: Buffer) => {
        const now = Date.now()
        buf += d.toString()
        let nl
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl)
          buf = buf.slice(nl + 1)
          try { latencies.push(now - JSON.parse(line).time) } catch {}
        }
      })
      return child
    })
    try {
      await new Promise(resolve => setTimeout(resolve, 3000))
      for (let k = 0; k < announcements; k++) {
        const f = path.join(dir, `a${k}.bin`)
        await fs.writeFile(f, randomBytes(1024))
        await cli(0, ['publish', f])
      }
      const expected = announcements * 7
      const by = Date.now() + 15_000
      while (latencies.length < expected && Date.now() < by) await new Promise(resolve => setTimeout(resolve, 200))
    } finally {
      for (const w of watchers) w.kill('SIGTERM')
    }
    const heard = latencies.length
    let dropped = 0
    for (let i = 0; i < HOSTS; i++) dropped += await L.dropped(i)
    const result = {
      hosts: HOSTS,
      rttMs: 40,
      seederRateMbit: rateMbit ?? null,
      loss: L.lossEmulated ? 0.01 : 0,
      packetsDropped: dropped,
      netem: L.netem,
      publishMs: published,
      publishToFindableMs: findable,
      publishToFetchedMs: fetchable,
      sizeMiB,
      fetchFromOneMs: fromOne,
      fetchFromFourMs: fromFour,
      fetchFromOneMBps: rate(fromOne),
      fetchFromFourMBps: rate(fromFour),
      speedup: fromOne / fromFour,
      announcements,
      heard,
      announceP50Ms: heard > 0 ? quantile(latencies, 0.5) : null,
      announceP99Ms: heard > 0 ? quantile(latencies, 0.99) : null
    }
    out(`publish-to-fetchable (1 MiB, host 0 -> host 7): publish ${published} ms, DHT-findable after ${findable} ms, fetched after ${fetchable} ms`)
    out(`fetch ${sizeMiB} MiB from 1 seeder:  ${fmt(fromOne / 1000, 2)} s, ${fmt(rate(fromOne))} MB/s`)
    out(`fetch ${sizeMiB} MiB from 4 seeders: ${fmt(fromFour / 1000, 2)} s, ${fmt(rate(fromFour))} MB/s (${fmt(result.speedup, 2)}x the single seeder)`)
    out(`announcement latency over ${heard} of ${announcements * 7} deliveries: p50 ${result.announceP50Ms ?? 'n/a'} ms, p99 ${result.announceP99Ms ?? 'n/a'} ms`)
    out(`loss: ${L.lossEmulated ? `${dropped} packets dropped by the hosts' loss profiles` : 'not emulated on this machine'}`)
    out(JSON.stringify(result))
    return 0
  } finally {
    await lab?.destroy()
    await fs.rm(dir, { recursive: true, force: true })
  }
}

main().then((code) => { process.exitCode = code }, (err) => { out(`bench/lab failed: ${err.message}`); process.exitCode = 2 })
