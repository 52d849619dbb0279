/**
 * How long a `shoal` command takes as a whole process, against `node -e 0` in the same run:
 * `--version` and `--help`, commands through a running daemon, and offline reads of a repo.
 * Runs are interleaved (each round runs every command once), so a busy moment on the shared
 * machine falls on all of them alike. Peak RSS is read in separate runs, from the process itself
 * at exit (`process.resourceUsage().maxRSS`, through a module loaded with --import).
 *
 *     node dist/bench/cli.js [--runs N] [--warmup N]
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { SHOAL_BIN, lastJson, runCli, spawnLoopbackDaemon } from '../test/helpers/cli.js'
import { fmt, intOption, median, out } from './lib.js'

interface Case {
  name: string
  args: string[]
  /** Most the median may be, as a multiple of `node -e 0` */
  maxRatio?: number
  /** Most the peak RSS may be, MB (10^6 bytes) */
  maxRssMb?: number
}

const RSS_RUNS = 3
const MAX_RSS_MB = 60

/** A module that writes the process's peak RSS (KB) to $SHOAL_BENCH_RSS as it exits */
const RSS_HOOK = `import { writeFileSync } from 'node:fs'
process.on('exit', () => { writeFileSync(process.env.SHOAL_BENCH_RSS, String(process.resourceUsage().maxRSS)) })
`

function run (args: string[], env?: Record<string, string>): { ms: number, status: number | null, stdout: Buffer, stderr: string } {
  const t = performance.now()
  const r = spawnSync(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 24 })
  return { ms: performance.now() - t, status: r.status, stdout: r.stdout, stderr: r.stderr.toString() }
}

async function main (): Promise<number> {
  const argv = process.argv.slice(2)
  const runs = intOption(argv, '--runs', 15, 1000)
  const warmup = intOption(argv, '--warmup', 2, 100)
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shoal-bench-cli-'))
  let daemon: Awaited<ReturnType<typeof spawnLoopbackDaemon>> | undefined
  try {
    const file = path.join(dir, 'one-kib.bin')
    const bytes = randomBytes(1024)
    await fs.writeFile(file, bytes)
    const offline = path.join(dir, 'offline')
    const online = path.join(dir, 'online')
    for (const repo of [offline, online]) {
      const init = await runCli(['--repo', repo, 'init'])
      if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`)
    }
    const published = await runCli(['--repo', offline, '--json', 'publish', file])
    if (published.code !== 0) throw new Error(`publish failed: ${published.stderr}`)
    const cid: string = lastJson(published.stdout).cid
    daemon = await spawnLoopbackDaemon(online)
    const onDaemon = await runCli(['--repo', online, '--json', 'publish', file])
    if (onDaemon.code !== 0 || lastJson(onDaemon.stdout).cid !== cid) throw new Error(`publish through the daemon failed: ${onDaemon.stderr}`)

    const cases: Case[] = [
      { name: 'node -e 0', args: ['-e', '0'] },
      { name: '--version', args: [SHOAL_BIN, '--version'], maxRatio: 1.5, maxRssMb: MAX_RSS_MB },
      { name: '--help', args: [SHOAL_BIN, '--help'], maxRatio: 1.5, maxRssMb: MAX_RSS_MB },
      { name: 'id (daemon)', args: [SHOAL_BIN, '--repo', online, 'id'], maxRatio: 2.5, maxRssMb: MAX_RSS_MB },
      { name: 'ls (daemon)', args: [SHOAL_BIN, '--repo', online, 'ls'], maxRatio: 2.5, maxRssMb: MAX_RSS_MB },
      { name: 'stats (daemon)', args: [SHOAL_BIN, '--repo', online, 'stats'], maxRatio: 2.5, maxRssMb: MAX_RSS_MB },
      { name: 'cat 1 KiB (daemon)', args: [SHOAL_BIN, '--repo', online, 'cat', cid], maxRatio: 2.5, maxRssMb: MAX_RSS_MB },
      { name: 'ls (offline)', args: [SHOAL_BIN, '--repo', offline, 'ls'], maxRatio: 3, maxRssMb: MAX_RSS_MB },
      { name: 'cat 1 KiB (offline)', args: [SHOAL_BIN, '--repo', offline, 'cat', cid], maxRatio: 3, maxRssMb: MAX_RSS_MB }
    ]

    // every command works, and cat gives the file's bytes, before anything is timed
    for (const c of cases) {
      const r = run(c.args)
      if (r.status !== 0) throw new Error(`${c.name} failed (exit ${r.status}): ${r.stderr}`)
      if (c.name.startsWith('cat') && !r.stdout.equals(bytes)) throw new Error(`${c.name} gave other bytes than the file's`)
    }

    const times = cases.map(() => [] as number[])
    for (let round = 0; round < warmup + runs; round++) {
      for (const [i, c] of cases.entries()) {
        const r = run(c.args)
        if (r.status !== 0) throw new Error(`${c.name} failed (exit ${r.status}): ${r.stderr}`)
        if (round >= warmup) times[i].push(r.ms)
      }
    }

    const hook = path.join(dir, 'rss-hook.mjs')
    await fs.writeFile(hook, RSS_HOOK)
    const rssFile = path.join(dir, 'rss')
    const rss = cases.map((c) => {
      let peak = 0
      for (let i = 0; i < RSS_RUNS; i++) {
        const r = run(['--import', hook, ...c.args], { SHOAL_BENCH_RSS: rssFile })
        if (r.status !== 0) throw new Error(`${c.name} failed (exit ${r.status}): ${r.stderr}`)
        peak = Math.max(peak, Number(spawnSync('cat', [rssFile]).stdout.toString()) * 1024 / 1e6)
      }
      return peak
    })

    const base = median(times[0])
    let failed = false
    const rows = cases.map((c, i) => {
      const ms = median(times[i])
      const ratio = ms / base
      const ratioOk = c.maxRatio == null || ratio <= c.maxRatio
      const rssOk = c.maxRssMb == null || rss[i] <= c.maxRssMb
      if (!ratioOk || !rssOk) failed = true
      return { name: c.name, ms, ratio, maxRatio: c.maxRatio, rssMb: rss[i], maxRssMb: c.maxRssMb, pass: ratioOk && rssOk }
    })
    out(`shoal CLI start-up: ${runs} interleaved runs after ${warmup} warm-up, medians; node ${process.version}`)
    out(`${'command'.padEnd(22)} ${'ms'.padStart(7)} ${'x node'.padStart(7)} ${'target'.padStart(7)} ${'peak MB'.padStart(8)} ${'target'.padStart(7)}  result`)
    for (const r of rows) {
      out(`${r.name.padEnd(22)} ${fmt(r.ms).padStart(7)} ${fmt(r.ratio, 2).padStart(7)} ${(r.maxRatio != null ? `<=${r.maxRatio}` : '').padStart(7)} ${fmt(r.rssMb).padStart(8)} ${(r.maxRssMb != null ? `<=${r.maxRssMb}` : '').padStart(7)}  ${r.maxRatio != null ? (r.pass ? 'PASS' : 'FAIL') : 'baseline'}`)
    }
    out(JSON.stringify({ runs, warmup, node: process.version, rows }))
    return failed ? 1 : 0
  } finally {
    await daemon?.stop()
    await fs.rm(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then((code) => { process.exitCode = code }, (err) => {
    process.stderr.write(`bench/cli: ${err?.stack ?? err}\n`)
    process.exitCode = 2
  })
}
