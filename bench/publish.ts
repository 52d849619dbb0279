/**
 * bench/publish: publish a large file into a fresh repo with the real CLI (offline, no daemon)
 * and compare its throughput with a baseline measured in the same run, on the same disk: stream
 * the same bytes into a new file, fsync it, and hash them with SHA-256.
 *
 * Targets (issue): publish/baseline ratio >= 0.6, publish peak RSS <= 200 MB.
 *
 *   node dist/bench/publish.js [--size MiB] [--rounds N] [--dir TMPDIR]
 *
 * The page cache cannot be dropped reliably, so baseline and publish run alternately (the order
 * flips each round) and the medians are reported. Both run as child processes and are timed
 * from spawn to exit, so both pay a Node start-up; publish also pays loading the CLI.
 * MB = 10^6 bytes everywhere (throughput and RSS). The last stdout line is one JSON object.
 *
 * Internal mode, run by the bench itself: `--baseline FILE OUT`.
 */
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, existsSync, readFileSync, rmSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { fmt, intOption, median, out, stringOption } from './lib.js'

const MiB = 1024 * 1024
const MB = 1e6
const second = 1000
const minute = 60 * second

const TARGET_RATIO = 0.6
const TARGET_RSS_MB = 200
const DEFAULT_SIZE_MIB = 1024
const DEFAULT_ROUNDS = 3
/** Bounds, so a typo cannot fill the disk or run all night */
const MAX_SIZE_MIB = 16 * 1024
const MAX_ROUNDS = 10
/** A child that runs slower than 1 MB/s (plus start-up) is stuck: kill it */
const childTimeout = (bytes: number): number => 2 * minute + (bytes / MB) * second
const RSS_POLL_INTERVAL = 50
const TIME_BIN = '/usr/bin/time'

const here = path.dirname(fileURLToPath(import.meta.url))
const CLI = path.resolve(here, '../bin/shoal.js')

interface RunResult {
  /** Spawn to exit */
  ms: number
  /** Peak resident set size, bytes; undefined when it could not be read */
  peakRss?: number
  stdout: string
}

interface Round {
  round: number
  first: 'baseline' | 'publish'
  baselineMBps: number
  publishMBps: number
  ratio: number
  publishPeakRssMB?: number
  baselinePeakRssMB?: number
}

// ---- baseline child ----------------------------------------------------------------------

/** Stream FILE into OUT, fsync OUT, SHA-256 the bytes; print the hex digest */
async function baseline (file: string, out: string): Promise<void> {
  const hash = createHash('sha256')
  const handle = await fs.open(out, 'wx')
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: MiB }) as AsyncIterable<Buffer>) {
      hash.update(chunk)
      await handle.write(chunk)
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
  process.stdout.write(hash.digest('hex') + '\n')
}

// ---- process running and measuring --------------------------------------------------------

let current: ReturnType<typeof spawn> | undefined

function killGroup (child: ReturnType<typeof spawn> | undefined): void {
  if (child?.pid == null || child.exitCode != null || child.signalCode != null) return
  try { process.kill(-child.pid, 'SIGKILL') } catch {}
}

/**
 * Run a command to completion, timing it and measuring its peak RSS: through `/usr/bin/time -v`
 * when present, else by polling VmHWM in /proc/<pid>/status every 50 ms.
 */
async function run (cmd: string, args: string[], timeoutMs: number): Promise<RunResult> {
  const useTime = existsSync(TIME_BIN)
  const [bin, argv] = useTime ? [TIME_BIN, ['-v', cmd, ...args]] : [cmd, args]
  const started = process.hrtime.bigint()
  // own process group, so a timeout or Ctrl-C also ends the node under /usr/bin/time
  const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  current = child
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-64 * 1024) })

  let polled = 0
  const poll = useTime
    ? undefined
    : setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
        if (m != null) polled = Math.max(polled, Number(m[1]) * 1024)
      } catch {}
    }, RSS_POLL_INTERVAL)
  const timer = setTimeout(() => { killGroup(child) }, timeoutMs)

  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', (c, s) => { resolve([c, s]) })
    })
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    if (code !== 0) {
      throw new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}${signal === 'SIGKILL' ? ` (timeout ${timeoutMs} ms?)` : ''}\n${stderr.slice(-4000)}`)
    }
    let peakRss: number | undefined
    if (useTime) {
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)
      if (m != null) peakRss = Number(m[1]) * 1024
    } else if (polled > 0) {
      peakRss = polled
    }
    return { ms, peakRss, stdout }
  } finally {
    clearTimeout(timer)
    if (poll != null) clearInterval(poll)
    current = undefined
  }
}

// ---- the bench -----------------------------------------------------------------------------

async function writeInput (file: string, bytes: number): Promise<void> {
  const handle = await fs.open(file, 'wx')
  try {
    for (let left = bytes; left > 0; left -= MiB) {
      await handle.write(randomBytes(Math.min(MiB, left)))
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
}

async function sha256OfFile (file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file, { highWaterMark: MiB }) as AsyncIterable<Buffer>) hash.update(chunk)
  return hash.digest('hex')
}


async function main (args: string[]): Promise<void> {
  if (args[0] === '--baseline') {
    if (args[1] == null || args[2] == null) throw new Error('usage: --baseline FILE OUT')
    await baseline(args[1], args[2])
    return
  }
  const sizeMiB = intOption(args, '--size', DEFAULT_SIZE_MIB, MAX_SIZE_MIB)
  const rounds = intOption(args, '--rounds', DEFAULT_ROUNDS, MAX_ROUNDS)
  const base = stringOption(args, '--dir') ?? os.tmpdir()
  const bytes = sizeMiB * MiB
  if (!existsSync(CLI)) throw new Error(`${CLI} not found: build first (npx tsc -p tsconfig.json)`)

  const tmp = await fs.mkdtemp(path.join(base, 'shoal-bench-publish-'))
  const cleanup = (): void => {
    killGroup(current)
    // synchronous so it also runs from a signal handler; retries while a killed child lets go
    try { rmSync(tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }) } catch {}
  }
  const onSignal = (sig: NodeJS.Signals): void => {
    killGroup(current)
    // give the killed group a moment to exit before removing the files it was writing
    setTimeout(() => {
      cleanup()
      process.exit(sig === 'SIGINT' ? 130 : 143)
    }, 300)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  try {
    const free = await fs.statfs(tmp)
    const need = bytes * 3 + 256 * MiB // input + one baseline copy + one repo (+ slack)
    if (free.bavail * free.bsize < need) {
      throw new Error(`not enough free space in ${base}: need ~${Math.ceil(need / MiB)} MiB`)
    }
    out(`bench/publish: ${sizeMiB} MiB, ${rounds} round(s), in ${tmp}, node ${process.version}, peak RSS via ${existsSync(TIME_BIN) ? '/usr/bin/time -v' : '/proc VmHWM polling'}`)
    const input = path.join(tmp, 'input.bin')
    await writeInput(input, bytes)
    const expectedSha = await sha256OfFile(input) // also warms the page cache for round 1
    const timeout = childTimeout(bytes)

    const results: Round[] = []
    let cid: string | undefined
    for (let r = 1; r <= rounds; r++) {
      const first = r % 2 === 1 ? 'baseline' : 'publish'
      const repo = path.join(tmp, `repo-${r}`)
      const copy = path.join(tmp, `baseline-${r}.bin`)
      // init is set-up, not measured
      await run(process.execPath, [CLI, '--repo', repo, 'init'], 2 * minute)

      const doBaseline = async (): Promise<RunResult> => {
        const res = await run(process.execPath, [fileURLToPath(import.meta.url), '--baseline', input, copy], timeout)
        if (res.stdout.trim() !== expectedSha) throw new Error(`baseline hashed ${res.stdout.trim()}, expected ${expectedSha}`)
        await fs.rm(copy, { force: true })
        return res
      }
      const doPublish = async (): Promise<RunResult> => {
        const res = await run(process.execPath, [CLI, '--repo', repo, '--json', 'publish', input], timeout)
        const last = res.stdout.trim().split('\n').pop() ?? ''
        const parsed = JSON.parse(last) as { cid: string, size: number }
        if (parsed.size !== bytes) throw new Error(`publish reported ${parsed.size} bytes, expected ${bytes}`)
        if (cid != null && parsed.cid !== cid) throw new Error(`publish gave ${parsed.cid}, earlier round gave ${cid}`)
        cid = parsed.cid
        return res
      }
      let b: RunResult, p: RunResult
      if (first === 'baseline') {
        b = await doBaseline()
        p = await doPublish()
      } else {
        p = await doPublish()
        b = await doBaseline()
      }
      await fs.rm(repo, { recursive: true, force: true })

      const round: Round = {
        round: r,
        first,
        baselineMBps: bytes / MB / (b.ms / second),
        publishMBps: bytes / MB / (p.ms / second),
        ratio: b.ms / p.ms,
        publishPeakRssMB: p.peakRss == null ? undefined : p.peakRss / MB,
        baselinePeakRssMB: b.peakRss == null ? undefined : b.peakRss / MB
      }
      results.push(round)
      out(`  round ${r} (${first} first): baseline ${fmt(round.baselineMBps)} MB/s, publish ${fmt(round.publishMBps)} MB/s, ratio ${fmt(round.ratio, 3)}, publish peak RSS ${fmt(round.publishPeakRssMB)} MB`)
    }

    const baselineMBps = median(results.map(r => r.baselineMBps))
    const publishMBps = median(results.map(r => r.publishMBps))
    const ratio = median(results.map(r => r.ratio))
    const rssKnown = results.every(r => r.publishPeakRssMB != null)
    const publishPeakRssMB = rssKnown ? Math.max(...results.map(r => r.publishPeakRssMB ?? 0)) : undefined
    const ratioPass = ratio >= TARGET_RATIO
    const rssPass = publishPeakRssMB != null && publishPeakRssMB <= TARGET_RSS_MB

    out()
    out(`| ${`metric (median of ${rounds}; RSS: max)`.padEnd(40)} | value        | target    | result |`)
    out('|------------------------------------------|--------------|-----------|--------|')
    out(`| baseline: write+fsync+SHA-256 (MB/s)     | ${fmt(baselineMBps).padStart(12)} |           |        |`)
    out(`| publish (MB/s)                           | ${fmt(publishMBps).padStart(12)} |           |        |`)
    out(`| ratio publish/baseline                   | ${fmt(ratio, 3).padStart(12)} | >= ${TARGET_RATIO.toFixed(2)}   | ${ratioPass ? 'PASS' : 'FAIL'}   |`)
    out(`| publish peak RSS (MB)                    | ${fmt(publishPeakRssMB).padStart(12)} | <= ${TARGET_RSS_MB}    | ${rssPass ? 'PASS' : 'FAIL'}   |`)
    out()
    out(JSON.stringify({
      bench: 'publish',
      sizeMiB,
      rounds,
      cid,
      baselineMBps: round1(baselineMBps),
      publishMBps: round1(publishMBps),
      ratio: Math.round(ratio * 1000) / 1000,
      publishPeakRssMB: publishPeakRssMB == null ? null : round1(publishPeakRssMB),
      targets: { ratio: TARGET_RATIO, peakRssMB: TARGET_RSS_MB },
      pass: { ratio: ratioPass, rss: rssPass, all: ratioPass && rssPass },
      perRound: results.map(r => ({ ...r, baselineMBps: round1(r.baselineMBps), publishMBps: round1(r.publishMBps), ratio: Math.round(r.ratio * 1000) / 1000, publishPeakRssMB: r.publishPeakRssMB == null ? null : round1(r.publishPeakRssMB), baselinePeakRssMB: r.baselinePeakRssMB == null ? null : round1(r.baselinePeakRssMB) }))
    }))
    if (!(ratioPass && rssPass)) process.exitCode = 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    cleanup()
  }
}

function round1 (n: number): number {
  return Math.round(n * 10) / 10
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench/publish: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 2
})
