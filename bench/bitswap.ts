/**
 * bench/bitswap: shoal as a bitswap peer of IPFS nodes, against Helia talking to Helia, measured
 * in the same run on loopback.
 *
 *   node dist/bench/bitswap.js [--mib N] [--runs N] [--dir TMPDIR] [--timeout MINUTES] [--no-fsync]
 *
 *   (a) baseline: Helia node B fetches a random file (default 256 MiB) from Helia node A over
 *       bitswap (`unixfs(B).cat`), A and B connected, no other source.
 *   (b) a fresh Helia node fetches the same bytes from a `shoal start` process into which they
 *       were published with `shoal publish`. Target: (b)/(a) >= 1.0.
 *   (c) a fresh shoal daemon each run fetches the file from Helia node A (`shoal fetch CID --from
 *       A`); the result must say every byte came over bitswap. Target: (c)/(a) >= 1.0.
 *   Peak RSS of the shoal daemon during the fetches of (b) and (c). Target: <= 250 MB.
 *
 * Both Helia nodes live in this process, each on its own thread: A (the seeder) in a worker
 * thread, B (the fetcher, fresh each run, MemoryBlockstore) on the main thread, so in each of
 * (a), (b) and (c) the two ends of the transfer run on two event loops, as with a daemon. A
 * imports the file with `profile: 'unixfs-v1-2025'`, shoal's default, so both sides serve the
 * same DAG (the bench checks the two CIDs are equal).
 *
 * Every fetch is checked before its time counts: Helia's cat is hashed with SHA-256 as it streams
 * (in (a) and (b) alike); shoal's fetched file is read back with `shoal cat` after the fetch and
 * hashed. MB/s is the file's bytes over the time of the cat (a, b) or the daemon's `durationMs`
 * (c; the CLI's wall time is shown beside it); MB = 10^6 bytes. The three kinds take turns each
 * run, the order rotating, as the machine's load drifts; medians of the runs are reported.
 *
 * RSS: the daemon's VmHWM is reset (`5` > /proc/PID/clear_refs) before each fetch and read after
 * it, and VmRSS is sampled every 50 ms; the larger is the peak (the sampled one alone when the
 * reset is refused). Exit code 0 when every target is met, 1 when one is missed, 2 on error or
 * timeout. The last stdout line is one JSON object.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnDaemon } from '../src/api/spawn.js'
import { HELIA_PROFILE, heliaFetch, startHeliaSeeder, stopHeliaSeeder } from './helia-procs.js'
import type { HeliaSeeder } from './helia-procs.js'
import { fmt, intOption, median, out, stringOption, writeInput } from './lib.js'
import type { SpawnedDaemon } from '../src/api/spawn.js'

const MiB = 1024 * 1024
const MB = 1e6
const second = 1000
const minute = 60 * second

const TARGET_RATIO = 1.0
const TARGET_RSS_MB = 250
const DEFAULT_MIB = 256
const DEFAULT_RUNS = 3
const DEFAULT_TIMEOUT_MIN = 30
const MAX_MIB = 4096
const MAX_RUNS = 10
const MAX_TIMEOUT_MIN = 6 * 60
/** A transfer slower than 2 MB/s (plus a minute of slack) is stuck: abort it */
const transferTimeout = (bytes: number): number => Math.round(minute + bytes / (2 * MB) * second)
const COMMAND_TIMEOUT = 2 * minute
const DAEMON_STOP_GRACE = 15 * second
const RSS_POLL_INTERVAL = 50

const here = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(here, '../..')
const CLI = path.join(ROOT, 'dist/bin/shoal.js')
const LOCAL_CONFIG = path.join(ROOT, 'configs/local.json')

// ---- Helia --------------------------------------------------------------------------------------

// ---- shoal: daemons and CLI commands ------------------------------------------------------------

type Child = ReturnType<typeof spawn>
const children = new Set<Child>()
const daemons = new Set<SpawnedDaemon>()

function killGroup (child: Child): void {
  if (child.pid == null || child.exitCode != null || child.signalCode != null) return
  try { process.kill(-child.pid, 'SIGKILL') } catch {}
}

/**
 * `shoal ARGS` in its own process group, killed after `timeoutMs`; resolves with its last stdout
 * line parsed as JSON, or with the SHA-256 and length of its stdout when `hashStdout`
 */
async function cli (args: string[], timeoutMs: number, hashStdout = false): Promise<{ ms: number, json: any, sha?: string, bytes?: number }> {
  const started = performance.now()
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  children.add(child)
  let stdout = ''
  let stderr = ''
  let bytes = 0
  const hash = createHash('sha256')
  child.stdout?.on('data', (d: Buffer) => {
    if (hashStdout) {
      hash.update(d)
      bytes += d.byteLength
    } else stdout += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-16 * 1024) })
  const timer = setTimeout(() => { killGroup(child) }, timeoutMs)
  try {
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (c, s) => { resolve([c, s]) })
    })
    const ms = performance.now() - started
    const what = `shoal ${args.join(' ')}`
    if (code !== 0) throw new Error(`${what} exited with ${code ?? signal}${signal === 'SIGKILL' ? ` (timeout ${timeoutMs / second} s?)` : ''}\n${stderr.slice(-4000)}`)
    if (hashStdout) return { ms, json: undefined, sha: hash.digest('hex'), bytes }
    const last = stdout.trim().split('\n').pop() ?? ''
    try {
      return { ms, json: JSON.parse(last) }
    } catch {
      throw new Error(`${what}: last stdout line is not JSON: ${last.slice(0, 500)}`)
    }
  } finally {
    clearTimeout(timer)
    children.delete(child)
  }
}

/** init `repo` from `config` and start its daemon in a process group of its own */
async function startShoal (repo: string, config: string): Promise<SpawnedDaemon & { addr: string, pid: number }> {
  await cli(['--repo', repo, '--json', 'init', '--config', config], COMMAND_TIMEOUT)
  const d = await spawnDaemon({ repo, detached: true, stderrTail: 16 * 1024 })
  daemons.add(d)
  const addr = d.addresses.find(a => /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//.test(a))
  if (addr == null || d.child.pid == null) throw new Error(`daemon ${repo} has no loopback TCP address: ${JSON.stringify(d.addresses)}`)
  return { ...d, addr, pid: d.child.pid }
}

async function stopShoal (d: SpawnedDaemon | undefined): Promise<void> {
  if (d == null) return
  daemons.delete(d)
  await d.stop('SIGTERM', { graceMs: DAEMON_STOP_GRACE })
}

// ---- memory ------------------------------------------------------------------------------------

function status (pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m == null ? undefined : Number(m[1]) * 1024
  } catch {
    return undefined
  }
}

/** CPU seconds (user + system) `pid` has used so far; NaN when /proc cannot tell */
function cpuSeconds (pid: number): number {
  try {
    // the fields after "(comm) ": utime is field 14, stime 15; clock ticks are 100 a second on Linux
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return NaN
  }
}

interface Watched { startRss?: number, peak?: number, cpu: number }

/**
 * Peak RSS of `pid` while `fn` runs (VmHWM since a reset, or VmRSS sampled, whichever is larger),
 * its RSS before, and the CPU seconds it used
 */
async function watch<T> (pid: number, fn: () => Promise<T>): Promise<[T, Watched]> {
  let reset = false
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    reset = true
  } catch {}
  const startRss = status(pid, 'VmRSS')
  const cpu0 = cpuSeconds(pid)
  let sampled = startRss ?? 0
  const sample = (): void => { sampled = Math.max(sampled, status(pid, 'VmRSS') ?? 0) }
  const timer = setInterval(sample, RSS_POLL_INTERVAL)
  try {
    const result = await fn()
    sample()
    const cpu = cpuSeconds(pid) - cpu0
    const hwm = reset ? status(pid, 'VmHWM') ?? 0 : 0
    const peak = Math.max(sampled, hwm)
    return [result, { startRss, peak: peak > 0 ? peak : undefined, cpu }]
  } finally {
    clearInterval(timer)
  }
}

// ---- the bench ---------------------------------------------------------------------------------

type Kind = 'a' | 'b' | 'c'
interface Run {
  kind: Kind
  run: number
  MBps: number
  ms: number
  wallMs?: number
  rssMB?: number
  startRssMB?: number
  daemonCpuS?: number
  /** Why the fetch failed, or its bytes were wrong: it counts as 0 MB/s */
  error?: string
}

const daemonFigures = (w: Watched): Pick<Run, 'rssMB' | 'startRssMB' | 'daemonCpuS'> =>
  ({ rssMB: w.peak == null ? undefined : w.peak / MB, startRssMB: w.startRss == null ? undefined : w.startRss / MB, daemonCpuS: w.cpu })

async function main (args: string[]): Promise<void> {
  const mib = intOption(args, '--mib', DEFAULT_MIB, MAX_MIB)
  const runs = intOption(args, '--runs', DEFAULT_RUNS, MAX_RUNS)
  const timeoutMin = intOption(args, '--timeout', DEFAULT_TIMEOUT_MIN, MAX_TIMEOUT_MIN)
  const noFsync = args.includes('--no-fsync')
  const base = stringOption(args, '--dir') ?? os.tmpdir()
  const size = mib * MiB
  if (!existsSync(CLI)) throw new Error(`${CLI} not found: build first (npx tsc -p tsconfig.json)`)

  const tmp = await fs.mkdtemp(path.join(base, 'shoal-bench-bitswap-'))
  let seed: HeliaSeeder | undefined
  const killAll = (): void => {
    for (const d of daemons) if (d.child.pid != null) killGroup(d.child)
    for (const c of children) killGroup(c)
    void seed?.worker.terminate()
  }
  const cleanup = (): void => {
    killAll()
    try { rmSync(tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }) } catch {}
  }
  const abort = (code: number, why: string): void => {
    process.stderr.write(`bench/bitswap: ${why}\n`)
    killAll()
    setTimeout(() => { cleanup(); process.exit(code) }, 300)
  }
  const onSignal = (sig: NodeJS.Signals): void => { abort(sig === 'SIGINT' ? 130 : 143, `${sig} received, stopping`) }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const watchdog = setTimeout(() => { abort(2, `gave up after --timeout ${timeoutMin} min`) }, timeoutMin * minute)

  let server: Awaited<ReturnType<typeof startShoal>> | undefined
  try {
    out(`bench/bitswap: ${mib} MiB x ${runs} run(s), in ${tmp}, node ${process.version}${noFsync ? ', stores without fsync' : ''}`)
    out('  Helia A (seeder) runs in a worker thread of this process, Helia B (fetcher) on its main thread; shoal daemons are child processes')
    const config = path.join(tmp, 'config.json')
    const c = JSON.parse(await fs.readFile(LOCAL_CONFIG, 'utf8'))
    // loopback only, nothing found by multicast: each fetch has exactly the source it is given
    c.addresses = { ...c.addresses, listen: ['/ip4/127.0.0.1/tcp/0'] }
    c.discovery = { ...c.discovery, mdns: false }
    c.gateway = { ...c.gateway, enabled: false }
    c.exchange = { ...c.exchange, bitswap: true, uploadRate: 0, downloadRate: 0 }
    if (noFsync) c.store = { ...c.store, fsync: false }
    await fs.writeFile(config, JSON.stringify(c, null, 2))

    const input = path.join(tmp, 'input.bin')
    const sha = await writeInput(input, size)
    seed = await startHeliaSeeder(input, transferTimeout(size))
    server = await startShoal(path.join(tmp, 'server'), config)
    const published = (await cli(['--repo', server.repo, '--json', 'publish', input], transferTimeout(size))).json
    if (published.cid !== seed.cid) throw new Error(`shoal published ${published.cid}, Helia A imported ${seed.cid}: not the same DAG`)
    await fs.rm(input)
    const cid = seed.cid
    out(`  ${cid}: ${size} bytes, the same CID from Helia A and from shoal publish (${HELIA_PROFILE})`)

    const runsOf: Run[] = []
    const kinds: Kind[] = ['a', 'b', 'c']
    for (let r = 1; r <= runs; r++) {
      const order = kinds.map((_, i) => kinds[(i + r - 1) % kinds.length])
      for (const kind of order) {
        let run: Run
        try {
          if (kind === 'a') {
            run = { kind, run: r, ...await heliaFetch(seed.addr, cid, size, sha, transferTimeout(size)) }
          } else if (kind === 'b') {
            const [res, w] = await watch(server.pid, async () => await heliaFetch(server!.addr, cid, size, sha, transferTimeout(size)))
            run = { kind, run: r, ...res, ...daemonFigures(w) }
          } else {
            run = { kind, run: r, ...await shoalFetch(path.join(tmp, `fetcher-${r}`), config, seed.addr, cid, size, sha) }
          }
        } catch (err) {
          // a fetch that fails or returns wrong bytes delivers nothing: it counts as 0 MB/s
          const message = err instanceof Error ? err.message : String(err)
          process.stderr.write(`bench/bitswap: run ${r} (${kind}) failed: ${message}\n`)
          // the shoal CLI's own reason, when it gave one, says more than the command line
          const lines = message.split('\n')
          run = { kind, run: r, MBps: 0, ms: NaN, error: lines.findLast(l => l.startsWith('shoal: ')) ?? lines[0] }
        }
        runsOf.push(run)
        if (run.error != null) out(`  run ${r} (${kind}): FAILED, counted as 0 MB/s: ${run.error}`)
        else out(`  run ${r} (${kind}): ${fmt(run.MBps)} MB/s in ${fmt(run.ms / second, 2)} s${run.wallMs != null ? ` (CLI wall ${fmt(run.wallMs / second, 2)} s)` : ''}${run.rssMB != null ? `; daemon RSS ${fmt(run.startRssMB)} -> peak ${fmt(run.rssMB)} MB, CPU ${fmt(run.daemonCpuS, 2)} s` : ''}`)
      }
    }
    await stopShoal(server)
    await stopHeliaSeeder(seed)
    seed = undefined

    // ---- results ----
    const med = (k: Kind): number => median(runsOf.filter(x => x.kind === k).map(x => x.MBps))
    // a failed run has no RSS figure; the others' maximum stands (no run at all: no figure, FAIL)
    const maxRss = (k: Kind): number => Math.max(...runsOf.filter(x => x.kind === k && x.error == null).map(x => x.rssMB ?? Infinity))
    const a = med('a')
    const b = med('b')
    const cc = med('c')
    const ratioB = b / a
    const ratioC = cc / a
    const rssB = maxRss('b')
    const rssC = maxRss('c')
    const failed = runsOf.filter(x => x.error != null).length
    const pass = {
      serve: ratioB >= TARGET_RATIO,
      fetch: ratioC >= TARGET_RATIO,
      rssServe: Number.isFinite(rssB) && rssB <= TARGET_RSS_MB,
      rssFetch: Number.isFinite(rssC) && rssC <= TARGET_RSS_MB,
      noFailures: failed === 0
    }
    const passText = (p: boolean): string => p ? 'PASS' : 'FAIL'
    const row = (name: string, value: string, ratio = '', target = '', result = ''): void => {
      out(`| ${name.padEnd(44)} | ${value.padStart(9)} | ${ratio.padStart(6)} | ${target.padEnd(9)} | ${result.padEnd(6)} |`)
    }
    out()
    row(`${mib} MiB, median of ${runs} (RSS: max)`, 'MB/s', 'ratio', 'target', 'result')
    out(`|${'-'.repeat(46)}|${'-'.repeat(11)}|${'-'.repeat(8)}|${'-'.repeat(11)}|${'-'.repeat(8)}|`)
    row('(a) Helia <- Helia (baseline)', fmt(a), '1.000')
    row('(b) Helia <- shoal daemon', fmt(b), fmt(ratioB, 3), `>= ${TARGET_RATIO.toFixed(1)}`, passText(pass.serve))
    row('(c) shoal daemon <- Helia', fmt(cc), fmt(ratioC, 3), `>= ${TARGET_RATIO.toFixed(1)}`, passText(pass.fetch))
    row('(b) shoal daemon peak RSS serving (MB)', fmt(Number.isFinite(rssB) ? rssB : undefined), '', `<= ${TARGET_RSS_MB}`, passText(pass.rssServe))
    row('(c) shoal daemon peak RSS fetching (MB)', fmt(Number.isFinite(rssC) ? rssC : undefined), '', `<= ${TARGET_RSS_MB}`, passText(pass.rssFetch))
    row(`failed fetches (of ${runsOf.length}; each counted 0 MB/s)`, String(failed), '', '0', passText(pass.noFailures))
    out()
    const all = pass.serve && pass.fetch && pass.rssServe && pass.rssFetch && pass.noFailures
    const r1 = (n: number | undefined): number | null => n == null || !Number.isFinite(n) ? null : Math.round(n * 10) / 10
    const r3 = (n: number): number => Math.round(n * 1000) / 1000
    out(JSON.stringify({
      bench: 'bitswap',
      mib,
      runs,
      cid,
      heliaInProcess: true,
      MBps: { heliaFromHelia: r1(a), heliaFromShoal: r1(b), shoalFromHelia: r1(cc) },
      ratio: { heliaFromShoal: r3(ratioB), shoalFromHelia: r3(ratioC) },
      peakRssMB: { serving: r1(rssB), fetching: r1(rssC) },
      targets: { ratio: TARGET_RATIO, peakRssMB: TARGET_RSS_MB },
      pass: { ...pass, all },
      perRun: runsOf.map(x => ({ kind: x.kind, run: x.run, MBps: r1(x.MBps), ms: Number.isFinite(x.ms) ? Math.round(x.ms) : null, ...(x.wallMs != null ? { wallMs: Math.round(x.wallMs) } : {}), ...(x.error != null ? { error: x.error } : {}), ...(x.rssMB != null ? { rssMB: r1(x.rssMB), startRssMB: r1(x.startRssMB), daemonCpuS: x.daemonCpuS == null ? null : r3(x.daemonCpuS) } : {}) }))
    }))
    if (!all) process.exitCode = 1
  } catch (err) {
    for (const d of daemons) {
      const tail = d.stderr().slice(-4000).trim()
      if (tail !== '') process.stderr.write(`--- daemon ${d.repo} stderr (tail) ---\n${tail}\n`)
    }
    throw err
  } finally {
    clearTimeout(watchdog)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    // daemons still running here are the error path: no graceful stop
    killAll()
    daemons.clear()
    await new Promise(resolve => setTimeout(resolve, 300))
    cleanup()
  }
}

/**
 * (c): a fresh daemon fetches `cid` from Helia A through the CLI, all of it over bitswap; its
 * bytes are read back with `shoal cat` and hashed before the run counts
 */
async function shoalFetch (repo: string, config: string, from: string, cid: string, size: number, sha: string): Promise<Omit<Run, 'kind' | 'run'>> {
  const d = await startShoal(repo, config)
  try {
    const [res, w] = await watch(d.pid, async () => await cli(['--repo', repo, '--json', 'fetch', cid, '--from', from], transferTimeout(size)))
    const r = res.json
    if (r.cid !== cid || r.fetchedBytes !== r.bytes || r.bytes < size || r.fetchedBytesBy?.bitswap !== r.fetchedBytes) {
      throw new Error(`shoal fetch returned ${JSON.stringify(r)}; expected all of ${cid} fetched over bitswap`)
    }
    const read = await cli(['--repo', repo, 'cat', cid], transferTimeout(size), true)
    if (read.bytes !== size || read.sha !== sha) throw new Error(`shoal cat of the fetched ${cid}: ${read.bytes} bytes, SHA-256 ${read.sha}; expected ${size} bytes, ${sha}`)
    return { MBps: size / MB / (r.durationMs / second), ms: r.durationMs, wallMs: res.ms, ...daemonFigures(w) }
  } catch (err) {
    const tail = d.stderr().slice(-4000).trim()
    if (tail !== '') process.stderr.write(`--- fetching daemon ${repo} stderr (tail) ---\n${tail}\n`)
    throw err
  } finally {
    await stopShoal(d)
    await fs.rm(repo, { recursive: true, force: true })
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench/bitswap: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 2
}).finally(() => {
  // bounded: a socket a stopped node failed to close must not keep the bench alive
  setTimeout(() => { process.exit() }, 5 * second).unref()
})
