/**
 * bench/gateway: many HTTP clients reading random byte ranges of one cached file from a daemon's
 * gateway, against a baseline measured in the same run: a plain Node `http` server (a child
 * process, like the daemon) serving the same bytes from a plain file.
 *
 *   node dist/bench/gateway.js [--size MiB] [--clients N] [--seconds S] [--rounds N] [--max-range KiB] [--dir TMPDIR]
 *
 * The file (default 256 MiB of random bytes) is published offline into a fresh repo (configs/
 * local.json), then the daemon starts: every block is in its store. Each of `--clients` clients
 * (default 200, keep-alive connections) loops for `--seconds` (default 10) per server: pick a
 * random range (start anywhere, 1 byte to `--max-range` KiB long, default 1024), GET it with
 * `Range: bytes=a-b`, and compare status, Content-Range and every byte with the file. Gateway and
 * baseline take turns for `--rounds` rounds (default 3, the order flipping each round) with the
 * same load generator (this process, on the same cores), each after a 2 s warm-up; medians are
 * reported. Reported: requests/s, MB/s (10^6 bytes of body), p50 and p99
 * latency (request sent to last body byte), wrong bytes, failed requests, and the gateway's
 * figures as a ratio of the baseline's. The last stdout line is one JSON object.
 *
 * Targets, each printed PASS or FAIL: requests/s and MB/s at least 0.9x the baseline's (medians
 * of the per-round ratios), p99 latency at most 1.3x the baseline's in every round, and every
 * range served byte for byte (0 wrong bytes, 0 failures). Exit code 0 when every target is met,
 * 1 otherwise, 2 on error. Temp files and children are removed on exit, error and SIGINT/SIGTERM.
 *
 * Internal mode, run by the bench itself: `--baseline-server FILE` (prints its port).
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createReadStream, rmSync } from 'node:fs'
import fs from 'node:fs/promises'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnDaemon } from '../src/api/spawn.js'
import { fmt, intOption, median, out, stringOption } from './lib.js'

const MiB = 1024 * 1024
const KiB = 1024
const MB = 1e6
const second = 1000
const minute = 60 * second

const DEFAULT_SIZE_MIB = 256
const DEFAULT_CLIENTS = 200
const DEFAULT_SECONDS = 10
const DEFAULT_ROUNDS = 3
const DEFAULT_MAX_RANGE_KIB = 1024
const WARMUP = 2 * second
const REQUEST_TIMEOUT = minute
const READY_TIMEOUT = minute
/** Targets: the gateway against the baseline */
const MIN_THROUGHPUT_RATIO = 0.9
const MAX_P99_RATIO = 1.3

const here = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(here, '../..')
const CLI = path.join(ROOT, 'dist/bin/shoal.js')
const LOCAL_CONFIG = path.join(ROOT, 'configs/local.json')

// ---- baseline child: a plain file over Node's http, single ranges -------------------------------

async function baselineServer (file: string): Promise<void> {
  const size = (await fs.stat(file)).size
  const server = http.createServer((req, res) => {
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
    if (m == null) {
      res.writeHead(200, { 'Content-Length': size, 'Content-Type': 'application/octet-stream' })
      createReadStream(file).pipe(res)
      return
    }
    const start = Number(m[1])
    const end = Math.min(Number(m[2]), size - 1)
    res.writeHead(206, { 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Type': 'application/octet-stream' })
    createReadStream(file, { start, end }).pipe(res)
  })
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${(server.address() as import('node:net').AddressInfo).port}\n`)
  })
}

// ---- children ------------------------------------------------------------------------------------

const children = new Set<ReturnType<typeof spawn>>()

/** Spawn a child, resolve with its first stdout line */
async function spawnReady (args: string[], what: string): Promise<{ child: ReturnType<typeof spawn>, line: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  children.add(child)
  child.on('close', () => { children.delete(child) })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-8 * KiB) })
  const line = await new Promise<string>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => { reject(new Error(`${what} not ready after ${READY_TIMEOUT / second} s\n${stderr}`)) }, READY_TIMEOUT)
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      buf += s
      const nl = buf.indexOf('\n')
      if (nl >= 0) { clearTimeout(timer); resolve(buf.slice(0, nl)) }
    })
    child.on('close', (code) => { clearTimeout(timer); reject(new Error(`${what} exited with ${code}\n${stderr}`)) })
  })
  return { child, line }
}

async function run (args: string[], what: string): Promise<string> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  if (code !== 0) throw new Error(`${what} exited with ${code}: ${stderr.slice(-4000)}`)
  return stdout
}

function killAll (): void {
  for (const c of children) {
    try { if (c.pid != null) process.kill(-c.pid, 'SIGKILL') } catch {}
  }
}

// ---- load ---------------------------------------------------------------------------------------

interface Load {
  requests: number
  bytes: number
  wrongBytes: number
  failures: number
  /** Requests sent again because their kept-alive connection was closed as it was reused */
  retried: number
  firstFailure?: string
  latenciesMs: number[]
  seconds: number
}

/**
 * One GET. A kept-alive connection the server closed just as it was reused fails before any
 * response: that request is sent again once on a new connection, as browsers and curl do for
 * idempotent requests (RFC 9112 §9.3.1), and counted in `retried`. A response cut off after it
 * began is a failure.
 */
async function get (agent: http.Agent, host: string, port: number, target: string, range: string, onRetry: () => void, retry = true): Promise<{ status: number, contentRange?: string, body: Buffer }> {
  return new Promise((resolve, reject) => {
    let responded = false
    const req = http.request({ host, port, path: target, agent, headers: { Range: range }, timeout: REQUEST_TIMEOUT }, (res) => {
      responded = true
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, contentRange: res.headers['content-range'], body: Buffer.concat(chunks) }) })
      res.on('error', reject)
      res.on('aborted', () => { reject(new Error('response cut off')) })
    })
    req.on('timeout', () => { req.destroy(new Error('request timed out')) })
    req.on('error', (err: any) => {
      if (retry && !responded && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        onRetry()
        get(agent, host, port, target, range, onRetry, false).then(resolve, reject)
        return
      }
      reject(err)
    })
    req.end()
  })
}

/** `clients` loops of random range requests for `ms`; every body is compared with `data` */
async function load (address: string, target: string, data: Buffer, clients: number, maxRange: number, ms: number): Promise<Load> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))]
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients })
  const result: Load = { requests: 0, bytes: 0, wrongBytes: 0, failures: 0, retried: 0, latenciesMs: [], seconds: ms / second }
  const until = performance.now() + ms
  const client = async (): Promise<void> => {
    while (performance.now() < until) {
      const length = 1 + Math.floor(Math.random() * Math.min(maxRange, data.byteLength))
      const start = Math.floor(Math.random() * (data.byteLength - length + 1))
      const end = start + length - 1
      const sent = performance.now()
      try {
        const r = await get(agent, host, port, target, `bytes=${start}-${end}`, () => { result.retried++ })
        result.latenciesMs.push(performance.now() - sent)
        result.requests++
        result.bytes += r.body.byteLength
        if (r.status !== 206 || r.contentRange !== `bytes ${start}-${end}/${data.byteLength}`) {
          result.failures++
          result.firstFailure ??= `status ${r.status}, Content-Range ${r.contentRange} for bytes=${start}-${end}`
        }
        result.wrongBytes += wrong(r.body, data.subarray(start, end + 1))
      } catch (err: any) {
        result.failures++
        result.firstFailure ??= err.message
      }
    }
  }
  await Promise.all(Array.from({ length: clients }, async () => client()))
  agent.destroy()
  return result
}

/** Bytes that differ, counting missing or extra bytes as wrong */
function wrong (got: Buffer, want: Buffer): number {
  if (got.byteLength === want.byteLength && got.equals(want)) return 0
  let n = Math.abs(got.byteLength - want.byteLength)
  const common = Math.min(got.byteLength, want.byteLength)
  for (let i = 0; i < common; i++) if (got[i] !== want[i]) n++
  return n
}

function percentile (xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]
}

function summary (l: Load): { rps: number, MBps: number, p50Ms: number, p99Ms: number, requests: number, wrongBytes: number, failures: number, retried: number, firstFailure?: string } {
  return {
    rps: l.requests / l.seconds,
    MBps: l.bytes / l.seconds / MB,
    p50Ms: percentile(l.latenciesMs, 0.5),
    p99Ms: percentile(l.latenciesMs, 0.99),
    requests: l.requests,
    wrongBytes: l.wrongBytes,
    failures: l.failures,
    retried: l.retried,
    ...(l.firstFailure != null ? { firstFailure: l.firstFailure } : {})
  }
}

// ---- main -----------------------------------------------------------------------------------------

async function main (args: string[]): Promise<void> {
  const sizeMiB = intOption(args, '--size', DEFAULT_SIZE_MIB, 4096)
  const clients = intOption(args, '--clients', DEFAULT_CLIENTS, 4096)
  const seconds = intOption(args, '--seconds', DEFAULT_SECONDS, 3600)
  const roundCount = intOption(args, '--rounds', DEFAULT_ROUNDS, 10)
  const maxRange = intOption(args, '--max-range', DEFAULT_MAX_RANGE_KIB, 64 * 1024) * KiB
  const tmp = await fs.mkdtemp(path.join(stringOption(args, '--dir') ?? os.tmpdir(), 'shoal-bench-gateway-'))
  const cleanup = (): void => {
    killAll()
    rmSync(tmp, { recursive: true, force: true })
  }
  const onSignal = (sig: NodeJS.Signals): void => {
    process.stderr.write(`bench/gateway: ${sig} received, stopping\n`)
    cleanup()
    process.exit(sig === 'SIGINT' ? 130 : 143)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    out(`bench/gateway: ${sizeMiB} MiB file, ${clients} clients, ${roundCount} rounds of ${seconds} s per server, ranges of 1 B to ${maxRange / KiB} KiB (node ${process.version}, ${os.cpus().length} cores)`)
    const data = randomBytes(sizeMiB * MiB)
    const file = path.join(tmp, 'data.bin')
    await fs.writeFile(file, data)
    const repo = path.join(tmp, 'repo')
    const config = JSON.parse(await fs.readFile(LOCAL_CONFIG, 'utf8'))
    config.gateway.maxConcurrentRequests = Math.max(config.gateway.maxConcurrentRequests, clients * 2)
    await fs.writeFile(path.join(tmp, 'config.json'), JSON.stringify(config))
    await run([CLI, '--repo', repo, '--json', 'init', '--config', path.join(tmp, 'config.json')], 'shoal init')
    const published = JSON.parse((await run([CLI, '--repo', repo, '--json', 'publish', file], 'shoal publish')).trim().split('\n').pop() ?? '{}')
    const cid: string = published.cid
    const daemon = await spawnDaemon({ repo, args: ['--gateway', '127.0.0.1:0'], detached: true, readyTimeoutMs: READY_TIMEOUT })
    children.add(daemon.child)
    daemon.child.once('close', () => { children.delete(daemon.child) })
    const gateway = daemon.gateway ?? ''
    const baseline = await spawnReady([fileURLToPath(import.meta.url), '--baseline-server', file], 'baseline server').then(b => ({ ...b, address: `127.0.0.1:${b.line.trim()}` }))
    out(`published ${cid}; gateway on ${gateway}, baseline on ${baseline.address}`)

    const target = `/ipfs/${cid}`
    const row = (name: string, x: ReturnType<typeof summary>): string =>
      `${name.padEnd(9)} ${fmt(x.rps, 0).padStart(8)} req/s ${fmt(x.MBps).padStart(8)} MB/s  p50 ${fmt(x.p50Ms).padStart(7)} ms  p99 ${fmt(x.p99Ms).padStart(7)} ms  ${x.requests} requests, ${x.wrongBytes} wrong bytes, ${x.failures} failed, ${x.retried} retried`
    const measure = async (which: 'gateway' | 'baseline'): Promise<ReturnType<typeof summary>> => {
      const [address, path] = which === 'gateway' ? [gateway, target] : [baseline.address, '/data.bin']
      await load(address, path, data, clients, maxRange, WARMUP)
      return summary(await load(address, path, data, clients, maxRange, seconds * second))
    }
    // the machine's load drifts: alternate, flipping the order each round, and take medians
    const rounds: Array<{ round: number, first: string, gateway: ReturnType<typeof summary>, baseline: ReturnType<typeof summary>, ratio: { rps: number, MBps: number, p99: number } }> = []
    for (let round = 1; round <= roundCount; round++) {
      const order: Array<'gateway' | 'baseline'> = round % 2 === 1 ? ['gateway', 'baseline'] : ['baseline', 'gateway']
      const got: Record<string, ReturnType<typeof summary>> = {}
      for (const which of order) got[which] = await measure(which)
      const g = got.gateway
      const b = got.baseline
      const ratio = { rps: g.rps / b.rps, MBps: g.MBps / b.MBps, p99: g.p99Ms / b.p99Ms }
      rounds.push({ round, first: order[0], gateway: g, baseline: b, ratio })
      out(`round ${round} (${order[0]} first)`)
      out(`  ${row('gateway', g)}`)
      out(`  ${row('baseline', b)}`)
      out(`  gateway/baseline: ${fmt(ratio.rps, 2)}x requests/s, ${fmt(ratio.MBps, 2)}x MB/s, ${fmt(ratio.p99, 2)}x p99 latency`)
      if (g.firstFailure != null) out(`  first gateway failure: ${g.firstFailure}`)
    }
    const med = (f: (r: typeof rounds[number]) => number): number => median(rounds.map(f))
    const result = {
      gateway: { rps: med(r => r.gateway.rps), MBps: med(r => r.gateway.MBps), p50Ms: med(r => r.gateway.p50Ms), p99Ms: med(r => r.gateway.p99Ms) },
      baseline: { rps: med(r => r.baseline.rps), MBps: med(r => r.baseline.MBps), p50Ms: med(r => r.baseline.p50Ms), p99Ms: med(r => r.baseline.p99Ms) },
      ratio: { rps: med(r => r.ratio.rps), MBps: med(r => r.ratio.MBps), p99: med(r => r.ratio.p99) }
    }
    const wrongBytes = rounds.reduce((n, r) => n + r.gateway.wrongBytes, 0)
    const failures = rounds.reduce((n, r) => n + r.gateway.failures, 0)
    const requests = rounds.reduce((n, r) => n + r.gateway.requests, 0)
    out(`medians over ${roundCount} rounds: gateway ${fmt(result.gateway.rps, 0)} req/s, p99 ${fmt(result.gateway.p99Ms)} ms; baseline ${fmt(result.baseline.rps, 0)} req/s, p99 ${fmt(result.baseline.p99Ms)} ms`)
    out(`gateway/baseline (median of per-round ratios): ${fmt(result.ratio.rps, 2)}x requests/s, ${fmt(result.ratio.MBps, 2)}x MB/s, ${fmt(result.ratio.p99, 2)}x p99 latency`)
    const worstP99 = Math.max(...rounds.map(r => r.ratio.p99))
    const targets = {
      rps: result.ratio.rps >= MIN_THROUGHPUT_RATIO,
      MBps: result.ratio.MBps >= MIN_THROUGHPUT_RATIO,
      p99: worstP99 <= MAX_P99_RATIO,
      correctness: wrongBytes === 0 && failures === 0
    }
    const verdict = (ok: boolean): string => ok ? 'PASS' : 'FAIL'
    out(`requests/s: ${verdict(targets.rps)} (${fmt(result.ratio.rps, 2)}x, target >= ${MIN_THROUGHPUT_RATIO}x)`)
    out(`MB/s: ${verdict(targets.MBps)} (${fmt(result.ratio.MBps, 2)}x, target >= ${MIN_THROUGHPUT_RATIO}x)`)
    out(`p99 latency: ${verdict(targets.p99)} (worst round ${fmt(worstP99, 2)}x, target <= ${MAX_P99_RATIO}x in every round)`)
    out(`correctness: ${verdict(targets.correctness)} (gateway: ${requests} ranges checked, ${wrongBytes} wrong bytes, ${failures} failed requests)`)
    const pass = Object.values(targets).every(Boolean)
    out(JSON.stringify({ sizeMiB, clients, seconds, rounds: roundCount, maxRangeKiB: maxRange / KiB, cid, ...result, worstP99Ratio: worstP99, wrongBytes, failures, requests, perRound: rounds, targets, pass }))
    if (!pass) process.exitCode = 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    cleanup()
  }
}

const argv = process.argv.slice(2)
if (argv[0] === '--baseline-server') {
  void baselineServer(argv[1] ?? '')
} else {
  main(argv).catch((err) => {
    process.stderr.write(`bench/gateway: ${err.stack ?? err.message}\n`)
    killAll()
    process.exitCode = 2
  })
}
