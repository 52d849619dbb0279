/**
 * bench/exchange: fetch throughput between daemons on loopback, with the real CLI, against a
 * baseline measured in the same run on the same processes.
 *
 *   (a) single source: a file (default 1 GiB) published on daemon A, fetched by daemon B into its
 *       store; baseline: a raw libp2p stream (`/shoal/perf/1.0.0`, same TCP + noise + yamux
 *       connection) carrying exactly the DAG's block bytes from A to B. Target: fetch >= 0.85 of the
 *       ceiling below (the raw stream hashed as it arrives), measured in the same run.
 *   (b) several sources: four seeder daemons, each with `exchange.uploadRate` = R, all holding the
 *       same file (default 512 MiB); B fetches it with `--from` each of them. Target: >= 3.4 R.
 *       For comparison B first fetches it from one seeder at R, while only that seeder runs: a
 *       fetch session also joins every connected peer that has the root, so the other seeders
 *       start afterwards. Each seeder's share comes from its `stats` (exchange bytesSent).
 *   (c) peak RSS of B's daemon during the fetches of (a). Target: <= 250 MB.
 *
 * Where (a) stands beside what any libp2p application gets: each round also streams the same bytes
 * over a stock libp2p stream (bench/stock-stream.ts: TCP, noise, yamux, every setting at its
 * default) between two processes of their own, and (a) prints the fetch as a ratio to it. And
 * beside IPFS: each round a fresh Helia node also fetches the same file over bitswap from a Helia
 * seeder that imported it (bench/helia-procs.ts: each on its own thread of this process, blocks in
 * memory, the same CID as shoal's), and (a) prints the fetch as a ratio to that (`--no-helia`
 * leaves it out).
 *
 * The ceiling of (a): each round also runs the raw stream with `shoal perf --hash`, B hashing
 * what arrives with SHA-256 in 1 MiB pieces on its event loop, as it arrives. That is the least
 * a fetch must do beyond the raw stream to verify its blocks (no protocol, no store). Where both
 * daemons and the hashing share the CPU, as on two cores, hashed/raw is about the most fetch/raw
 * can reach; with cores to spare, a fetch hashing on its own thread could pass it.
 *
 *   node dist/bench/exchange.js [--size MiB] [--multi-size MiB] [--rounds N] [--rate MB/s]
 *                               [--dir TMPDIR] [--timeout MINUTES] [--no-fsync]
 *                               [--encrypters tls,noise] [--no-helia]
 *
 * In (a) raw and fetch alternate for `--rounds` rounds (the order flips each round); in (b)
 * each kind of fetch runs `--rounds` times; medians are reported. Fetch MB/s is the DAG's block bytes over the `durationMs` the daemon measures; raw
 * MB/s is what `shoal perf` measures in the daemon (after the stream opens). B's store is emptied
 * (pin rm + gc) after each fetch; B is connected to every peer before measuring, so no figure
 * pays a dial.
 *
 * The upload cap is a token bucket that starts full and holds one second of burst
 * (src/exchange/rate.ts), so in a fetch of T seconds k seeders can send up to k x R x (T + 1 s):
 * the whole-duration rate overstates the cap. (b) therefore also reports the rate with the burst
 * taken out, (bytes - k x R x 1 s) / T, and passes only when that reaches 3.4 R. (Timing the
 * progress events after the first second does not help: the fetcher ramps up, so the seeders'
 * buckets are still full then.)
 *
 * CPU seconds (utime + stime from /proc/PID/stat) of the fetching and the serving daemon are
 * read around each transfer of (a), to show where the time goes on a machine with few cores,
 * and the fetcher's also by kind of thread (the stat file of each of /proc/PID/task): event loop, block I/O
 * thread, V8's GC helpers, libuv's thread pool.
 *
 * (c): B's VmHWM is reset (`5` > /proc/PID/clear_refs) before each fetch and read after it; VmRSS
 * is also sampled every 50 ms. The peak is the larger of the two (the sampled one alone when the
 * reset is not allowed). MB = 10^6 bytes everywhere. The last stdout line is one JSON object.
 */
import { existsSync, rmSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fmt, intOption, median, out, stringOption, writeInput } from './lib.js'
import { CLI, children, cli, cpuSeconds, daemons, killAll, readStatus, spawnPeer, stopDaemon } from './exchange-procs.js'
import type { Daemon } from './exchange-procs.js'
import { COMMAND_TIMEOUT, LOCAL_CONFIG, burstless, bytesSent, fetchOnce, initAndPublish, rawOnce, startStockServer, stockOnce, storeBytes, transferTimeout, writeConfig } from './exchange-runs.js'
import type { FetchRun } from './exchange-runs.js'
import { heliaFetch, startHeliaSeeder, stopHeliaSeeder } from './helia-procs.js'
import type { HeliaSeeder } from './helia-procs.js'

const MiB = 1024 * 1024
const MB = 1e6
const second = 1000
const minute = 60 * second
/** Burst of the upload token bucket, as in src/exchange/rate.ts */
const BUCKET_BURST = second

/** Fetch over the ceiling (the hashed raw stream), medians */
const TARGET_OF_CEILING = 0.85
const TARGET_MULTIPLE = 3.4
const TARGET_RSS_MB = 250
const SEEDERS = 4
const DEFAULT_SIZE_MIB = 1024
const DEFAULT_MULTI_SIZE_MIB = 512
const DEFAULT_ROUNDS = 3
const DEFAULT_RATE_MB = 20
const DEFAULT_TIMEOUT_MIN = 40
/** Bounds, so a typo cannot fill the disk or run all night */
const MAX_SIZE_MIB = 16 * 1024
const MAX_ROUNDS = 10
const MAX_RATE_MB = 10_000
const MAX_TIMEOUT_MIN = 24 * 60


// ---- helpers ---------------------------------------------------------------------------------

const mb = (bytes: number | undefined): number | undefined => bytes == null ? undefined : bytes / MB
const r1 = (n: number | undefined): number | null => n == null ? null : Math.round(n * 10) / 10
const r3 = (n: number | undefined): number | null => n == null ? null : Math.round(n * 1000) / 1000
const passText = (p: boolean): string => p ? 'PASS' : 'FAIL'
const threadText = (threads: Record<string, number>): string => Object.entries(threads).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(', ')

// ---- the bench -------------------------------------------------------------------------------

async function main (args: string[]): Promise<void> {
  const noFsync = args.includes('--no-fsync')
  const withHelia = !args.includes('--no-helia')
  const encrypters = stringOption(args, '--encrypters')?.split(',')
  const sizeMiB = intOption(args, '--size', DEFAULT_SIZE_MIB, MAX_SIZE_MIB)
  const multiSizeMiB = intOption(args, '--multi-size', DEFAULT_MULTI_SIZE_MIB, MAX_SIZE_MIB)
  const rounds = intOption(args, '--rounds', DEFAULT_ROUNDS, MAX_ROUNDS)
  const rateMB = intOption(args, '--rate', DEFAULT_RATE_MB, MAX_RATE_MB)
  const timeoutMin = intOption(args, '--timeout', DEFAULT_TIMEOUT_MIN, MAX_TIMEOUT_MIN)
  const base = stringOption(args, '--dir') ?? os.tmpdir()
  const size = sizeMiB * MiB
  const multiSize = multiSizeMiB * MiB
  const rate = rateMB * MB
  if (!existsSync(CLI)) throw new Error(`${CLI} not found: build first (npx tsc -p tsconfig.json)`)

  const tmp = await fs.mkdtemp(path.join(base, 'shoal-bench-exchange-'))
  const cleanup = (): void => {
    killAll()
    // synchronous so it also runs from a signal handler; retries while a killed daemon lets go
    try { rmSync(tmp, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }) } catch {}
  }
  const abort = (code: number, why: string): void => {
    process.stderr.write(`bench/exchange: ${why}\n`)
    daemons.clear()
    killAll()
    // give the killed groups a moment to exit before removing the files they were writing
    setTimeout(() => {
      cleanup()
      process.exit(code)
    }, 300)
  }
  const onSignal = (sig: NodeJS.Signals): void => { abort(sig === 'SIGINT' ? 130 : 143, `${sig} received, stopping`) }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  let helia: HeliaSeeder | undefined
  const watchdog = setTimeout(() => { abort(2, `gave up after --timeout ${timeoutMin} min`) }, timeoutMin * minute)

  try {
    const free = await fs.statfs(tmp)
    // (a): input + A's store + B's store; (b): input + four seeders' stores + B's store
    const need = Math.max(3 * size, (SEEDERS + 2) * multiSize) + 512 * MiB
    if (free.bavail * free.bsize < need) {
      throw new Error(`not enough free space in ${base}: need ~${Math.ceil(need / MiB)} MiB`)
    }
    out(`bench/exchange: (a) ${sizeMiB} MiB x ${rounds} round(s); (b) ${multiSizeMiB} MiB, ${SEEDERS} seeders at R = ${rateMB} MB/s; in ${tmp}, node ${process.version}${noFsync ? ", stores without fsync" : ""}, encrypters ${(encrypters ?? JSON.parse(await fs.readFile(LOCAL_CONFIG, 'utf8')).encrypters).join(' > ')}`)

    const cfgAB = path.join(tmp, 'config-ab.json')
    const cfgSeed = path.join(tmp, 'config-seed.json')
    await writeConfig(cfgAB, { perf: true, uploadRate: 0 }, { noFsync, encrypters })
    await writeConfig(cfgSeed, { perf: false, uploadRate: rate }, { noFsync, encrypters })

    // ---- (a) single source, and (c) ----
    const inputA = path.join(tmp, 'input-a.bin')
    const shaA = await writeInput(inputA, size)
    const cidA = await initAndPublish(path.join(tmp, 'A'), cfgAB, inputA, size)
    if (withHelia) {
      helia = await startHeliaSeeder(inputA, transferTimeout(size, 5 * MB))
      if (helia.cid !== cidA) throw new Error(`shoal published ${cidA}, the Helia seeder imported ${helia.cid}: not the same DAG`)
    }
    await fs.rm(inputA)
    await cli(['--repo', path.join(tmp, 'B'), '--json', 'init', '--config', cfgAB], COMMAND_TIMEOUT)
    const A = await spawnPeer('A', path.join(tmp, 'A'))
    const B = await spawnPeer('B', path.join(tmp, 'B'))
    const blockBytes = await storeBytes(A)
    if (blockBytes < size) throw new Error(`A's store holds ${blockBytes} bytes, less than the file`)
    await cli(['--repo', B.repo, '--json', 'connect', A.addr], COMMAND_TIMEOUT)
    const idleRssB = readStatus(B.pid).rss
    out(`(a) ${cidA}: ${blockBytes} block bytes; B idle RSS ${fmt(mb(idleRssB))} MB`)

    const stock = await startStockServer()
    const roundsA: Array<{ round: number, first: 'raw' | 'fetch', raw: Awaited<ReturnType<typeof rawOnce>>, hashed: Awaited<ReturnType<typeof rawOnce>>, fetch: FetchRun, ratio: number, stockMBps: number, heliaMBps?: number, heliaError?: string }> = []
    const timeoutA = transferTimeout(blockBytes, 5 * MB)
    for (let r = 1; r <= rounds; r++) {
      // fetch first in round 1, so one fetch runs on a B that has carried no raw transfer yet
      const first = r % 2 === 1 ? 'fetch' : 'raw'
      let raw, fetch
      if (first === 'raw') {
        raw = await rawOnce(B, A, blockBytes, timeoutA)
        fetch = await fetchOnce(B, cidA, blockBytes, [A], timeoutA)
      } else {
        fetch = await fetchOnce(B, cidA, blockBytes, [A], timeoutA)
        raw = await rawOnce(B, A, blockBytes, timeoutA)
      }
      const ratio = fetch.MBps / raw.MBps
      const hashed = await rawOnce(B, A, blockBytes, timeoutA, true)
      const stockMBps = await stockOnce(stock.addr, blockBytes, timeoutA)
      // IPFS beside it, not a target: a failed Helia fetch is reported, and the bench goes on
      let heliaMBps: number | undefined
      let heliaError: string | undefined
      if (helia != null) {
        try {
          heliaMBps = (await heliaFetch(helia.addr, helia.cid, size, shaA, timeoutA)).MBps
        } catch (err: any) {
          heliaError = `${err.name ?? 'Error'}: ${err.message}`
        }
      }
      roundsA.push({ round: r, first, raw, hashed, fetch, ratio, stockMBps, heliaMBps, heliaError })
      out(`  round ${r} (${first} first): raw ${fmt(raw.MBps)} MB/s, fetch ${fmt(fetch.MBps)} MB/s (${fetch.joined.length} peer, wall ${fmt(fetch.wallMs / 1000, 2)} s, daemon ${fmt(fetch.durationMs / 1000, 2)} s, first block after ${fmt(fetch.firstBlockMs, 0)} ms, ${fetch.duplicates} dup), ratio ${fmt(ratio, 3)}`)
      out(`    ceiling: raw + SHA-256 per MiB on B ${fmt(hashed.MBps)} MB/s = ${fmt(hashed.MBps / raw.MBps, 3)} of raw (CPU s A/B ${fmt(hashed.cpu.sources[0], 2)}/${fmt(hashed.cpu.fetcher, 2)}); fetch = ${fmt(fetch.MBps / hashed.MBps, 3)} of the ceiling`)
      out(`    CPU s A/B: raw ${fmt(raw.cpu.sources[0], 2)}/${fmt(raw.cpu.fetcher, 2)}, fetch ${fmt(fetch.cpu.sources[0], 2)}/${fmt(fetch.cpu.fetcher, 2)}; B RSS during fetch ${fmt(mb(fetch.rss.startRss))} -> peak ${fmt(mb(fetch.rss.peak))} MB (sampled ${fmt(mb(fetch.rss.sampledPeak))}, VmHWM ${fmt(mb(fetch.rss.hwm))}${fetch.rss.hwmReset ? ' since reset' : ' since start'}), during raw ${fmt(mb(raw.rss.startRss))} -> ${fmt(mb(raw.rss.peak))} MB`)
      out(`    stock libp2p stream (other processes) ${fmt(stockMBps)} MB/s; fetch = ${fmt(fetch.MBps / stockMBps, 3)} of it`)
      if (heliaMBps != null) out(`    Helia <- Helia over bitswap (file bytes, hashed) ${fmt(heliaMBps)} MB/s; fetch = ${fmt(fetch.MBps / heliaMBps, 2)}x it`)
      if (heliaError != null) out(`    Helia <- Helia over bitswap failed: ${heliaError.split('\n')[0]}`)
      out(`    CPU s of B's fetch by thread: ${threadText(fetch.fetcherThreads)}`)
      out(`    CPU s of A's serving by thread: ${threadText(fetch.sourceThreads)}`)
      out(`    CPU s of the ceiling by thread, B: ${threadText(hashed.fetcherThreads)}; A: ${threadText(hashed.sourceThreads)}`)
    }
    stock.child.stdin?.end()
    await stopHeliaSeeder(helia)
    await stopDaemon(A)
    await fs.rm(A.repo, { recursive: true, force: true })

    // ---- (b) several sources ----
    // A fetch session also joins every connected peer that has the root, so the single-seeder
    // fetches run while only S1 is up; S2..S4 start afterwards for the multi-seeder fetches.
    const inputB = path.join(tmp, 'input-b.bin')
    await writeInput(inputB, multiSize)
    let cidB: string | undefined
    for (let i = 1; i <= SEEDERS; i++) {
      const cid = await initAndPublish(path.join(tmp, `S${i}`), cfgSeed, inputB, multiSize)
      if (cidB != null && cid !== cidB) throw new Error(`seeder ${i} published ${cid}, seeder 1 ${cidB}`)
      cidB = cid
    }
    await fs.rm(inputB)
    if (cidB == null) throw new Error('no seeder')
    const seeders: Daemon[] = [await spawnPeer('S1', path.join(tmp, 'S1'))]
    const blockBytesB = await storeBytes(seeders[0])
    await cli(['--repo', B.repo, '--json', 'connect', seeders[0].addr], COMMAND_TIMEOUT)
    out(`(b) ${cidB}: ${blockBytesB} block bytes, seeders capped at ${rate} B/s`)
    if (SEEDERS * rate * BUCKET_BURST / second > blockBytesB / 4) {
      out(`    note: the seeders' 1 s burst is over a quarter of the file; the burst-out figure means little: raise --multi-size`)
    }
    const timeoutB = transferTimeout(blockBytesB, rate / 2)
    const singles: FetchRun[] = []
    for (let r = 1; r <= rounds; r++) {
      const single = await fetchOnce(B, cidB, blockBytesB, [seeders[0]], timeoutB)
      if (single.joined.some(p => p !== seeders[0].peerId)) throw new Error(`the single-seeder fetch joined ${single.joined.length} peers: ${single.joined.join(', ')}`)
      singles.push(single)
      out(`  round ${r}: 1 seeder ${fmt(single.MBps)} MB/s = ${fmt(single.MBps / rateMB, 2)} R (burst out ${fmt(burstless(single, 1, rate) / rateMB, 2)} R, wall ${fmt(single.wallMs / 1000, 2)} s)`)
    }
    for (let i = 2; i <= SEEDERS; i++) seeders.push(await spawnPeer(`S${i}`, path.join(tmp, `S${i}`)))
    for (const s of seeders.slice(1)) await cli(['--repo', B.repo, '--json', 'connect', s.addr], COMMAND_TIMEOUT)
    const multis: Array<FetchRun & { bytesByPeer: number[] }> = []
    for (let r = 1; r <= rounds; r++) {
      const before = await Promise.all(seeders.map(bytesSent))
      const fetched = await fetchOnce(B, cidB, blockBytesB, seeders, timeoutB)
      const after = await Promise.all(seeders.map(bytesSent))
      const multi = { ...fetched, bytesByPeer: after.map((a, i) => a - before[i]) }
      multis.push(multi)
      out(`  round ${r}: ${SEEDERS} seeders (${multi.joined.length} joined) ${fmt(multi.MBps)} MB/s = ${fmt(multi.MBps / rateMB, 2)} R (burst out ${fmt(burstless(multi, multi.joined.length, rate) / rateMB, 2)} R, wall ${fmt(multi.wallMs / 1000, 2)} s, ${multi.duplicates} dup, bytes per seeder ${multi.bytesByPeer.map(b => fmt(b / MB, 0)).join('/')} MB)`)
    }
    for (const s of seeders) await stopDaemon(s)
    await stopDaemon(B)

    // ---- results ----
    const rawMBps = median(roundsA.map(r => r.raw.MBps))
    const fetchMBps = median(roundsA.map(r => r.fetch.MBps))
    const ratio = median(roundsA.map(r => r.ratio))
    const hashedMBps = median(roundsA.map(r => r.hashed.MBps))
    const ceiling = median(roundsA.map(r => r.hashed.MBps / r.raw.MBps))
    const ofCeiling = median(roundsA.map(r => r.fetch.MBps / r.hashed.MBps))
    const fetchWallS = median(roundsA.map(r => r.fetch.wallMs / 1000))
    const stockMBps = median(roundsA.map(r => r.stockMBps))
    const ofStock = median(roundsA.map(r => r.fetch.MBps / r.stockMBps))
    // over the rounds whose Helia fetch completed
    const heliaRounds = roundsA.filter(r => r.heliaMBps != null)
    const heliaMBps = heliaRounds.length > 0 ? median(heliaRounds.map(r => r.heliaMBps ?? 0)) : undefined
    const ofHelia = heliaRounds.length > 0 ? median(heliaRounds.map(r => r.fetch.MBps / (r.heliaMBps ?? 1))) : undefined
    const peakRssMB = mb(Math.max(...roundsA.map(r => r.fetch.rss.peak ?? Infinity)))
    const sampledRssMB = mb(Math.max(...roundsA.map(r => r.fetch.rss.sampledPeak ?? 0)))
    const hwmMB = mb(Math.max(...roundsA.map(r => r.fetch.rss.hwm ?? 0)))
    const rawRssMB = mb(Math.max(...roundsA.map(r => r.raw.rss.peak ?? 0)))
    const firstFetchRssMB = mb(roundsA[0].fetch.rss.peak)
    const cpu = {
      rawA: median(roundsA.map(r => r.raw.cpu.sources[0])),
      rawB: median(roundsA.map(r => r.raw.cpu.fetcher)),
      fetchA: median(roundsA.map(r => r.fetch.cpu.sources[0])),
      fetchB: median(roundsA.map(r => r.fetch.cpu.fetcher))
    }
    const multiMBps = median(multis.map(r => r.MBps))
    const multiBurstlessMBps = median(multis.map(r => burstless(r, r.joined.length, rate)))
    const singleMBps = median(singles.map(r => r.MBps))
    const singleBurstlessMBps = median(singles.map(r => burstless(r, 1, rate)))
    const multiple = multiMBps / rateMB
    const burstlessMultiple = multiBurstlessMBps / rateMB
    const ceilingPass = ofCeiling >= TARGET_OF_CEILING
    const multiPass = burstlessMultiple >= TARGET_MULTIPLE
    const rssPass = peakRssMB != null && Number.isFinite(peakRssMB) && peakRssMB <= TARGET_RSS_MB

    const row = (name: string, value: string, target = '', result = ''): void => {
      out(`| ${name.padEnd(48)} | ${value.padStart(11)} | ${target.padEnd(9)} | ${result.padEnd(6)} |`)
    }
    out()
    row(`metric (median of ${rounds}; RSS: max)`, 'value', 'target', 'result')
    out(`|${'-'.repeat(50)}|${'-'.repeat(13)}|${'-'.repeat(11)}|${'-'.repeat(8)}|`)
    row('(a) raw libp2p stream A->B (MB/s)', fmt(rawMBps))
    row('(a) fetch A->B (MB/s, daemon time)', fmt(fetchMBps))
    row('(a) fetch wall time, CLI spawn to exit (s)', fmt(fetchWallS, 2))
    row('(a) CPU s serving A / fetching B: raw', `${fmt(cpu.rawA, 1)} / ${fmt(cpu.rawB, 1)}`)
    row('(a) CPU s serving A / fetching B: fetch', `${fmt(cpu.fetchA, 1)} / ${fmt(cpu.fetchB, 1)}`)
    row('(a) ratio fetch/raw', fmt(ratio, 3))
    row('(a) ceiling: raw + SHA-256 per MiB on B (MB/s)', fmt(hashedMBps))
    row('(a) ceiling/raw (hashing alone, on B\'s loop)', fmt(ceiling, 3))
    row('(a) fetch/ceiling', fmt(ofCeiling, 3), `>= ${TARGET_OF_CEILING}`, passText(ceilingPass))
    row('(a) stock libp2p stream, defaults (MB/s)', fmt(stockMBps))
    row('(a) fetch/stock libp2p stream', fmt(ofStock, 3))
    if (withHelia) {
      row(`(a) Helia <- Helia, bitswap (MB/s; ${heliaRounds.length} of ${rounds} done)`, fmt(heliaMBps))
      row('(a) fetch/Helia bitswap', fmt(ofHelia, 2))
    }
    row(`(b) ${SEEDERS} seeders at R=${rateMB} MB/s: fetch (MB/s)`, fmt(multiMBps))
    row(`(b) ${SEEDERS} seeders: multiple of R`, fmt(multiple, 2))
    row(`(b) ${SEEDERS} seeders: multiple of R, 1 s burst out`, fmt(burstlessMultiple, 2), `>= ${TARGET_MULTIPLE}`, passText(multiPass))
    row('(b) 1 seeder at R: fetch (MB/s)', fmt(singleMBps))
    row('(b) 1 seeder: multiple of R (burst out)', `${fmt(singleMBps / rateMB, 2)} (${fmt(singleBurstlessMBps / rateMB, 2)})`)
    row('(c) B peak RSS during fetch (MB)', fmt(peakRssMB), `<= ${TARGET_RSS_MB}`, passText(rssPass))
    row('(c)   sampled VmRSS max / VmHWM (MB)', `${fmt(sampledRssMB, 0)} / ${fmt(hwmMB, 0)}`)
    row('(c)   round 1 fetch, before any raw (MB)', fmt(firstFetchRssMB, 0))
    row('(c)   B idle before / peak during raw (MB)', `${fmt(mb(idleRssB), 0)} / ${fmt(rawRssMB, 0)}`)
    out()
    out(JSON.stringify({
      bench: 'exchange',
      sizeMiB,
      multiSizeMiB,
      rounds,
      rateMBps: rateMB,
      seeders: SEEDERS,
      single: { cid: cidA, blockBytes, rawMBps: r1(rawMBps), fetchMBps: r1(fetchMBps), fetchWallS: r3(fetchWallS), ratio: r3(ratio), hashedMBps: r1(hashedMBps), ceiling: r3(ceiling), fetchOfCeiling: r3(ofCeiling), stockMBps: r1(stockMBps), fetchOfStock: r3(ofStock), heliaMBps: r1(heliaMBps), fetchOfHelia: r3(ofHelia) },
      multi: { cid: cidB, blockBytes: blockBytesB, fetchMBps: r1(multiMBps), multiple: r3(multiple), burstlessMBps: r1(multiBurstlessMBps), burstlessMultiple: r3(burstlessMultiple), singleSeederMBps: r1(singleMBps), singleSeederBurstlessMBps: r1(singleBurstlessMBps) },
      rss: { peakMB: r1(peakRssMB), sampledMaxMB: r1(sampledRssMB), hwmMB: r1(hwmMB), hwmReset: roundsA.every(r => r.fetch.rss.hwmReset), idleMB: r1(mb(idleRssB)), rawPeakMB: r1(rawRssMB), firstFetchPeakMB: r1(firstFetchRssMB) },
      cpuSeconds: { rawServer: r3(cpu.rawA), rawFetcher: r3(cpu.rawB), fetchServer: r3(cpu.fetchA), fetchFetcher: r3(cpu.fetchB) },
      targets: { fetchOfCeiling: TARGET_OF_CEILING, multiple: TARGET_MULTIPLE, peakRssMB: TARGET_RSS_MB },
      pass: { fetchOfCeiling: ceilingPass, multiple: multiPass, rss: rssPass, all: ceilingPass && multiPass && rssPass },
      perRound: {
        single: roundsA.map(r => ({ round: r.round, first: r.first, rawMBps: r1(r.raw.MBps), hashedMBps: r1(r.hashed.MBps), stockMBps: r1(r.stockMBps), heliaMBps: r1(r.heliaMBps), heliaError: r.heliaError ?? null, fetchMBps: r1(r.fetch.MBps), ratio: r3(r.ratio), fetchWallMs: Math.round(r.fetch.wallMs), fetchDurationMs: r.fetch.durationMs, firstBlockMs: r.fetch.firstBlockMs == null ? null : Math.round(r.fetch.firstBlockMs), duplicates: r.fetch.duplicates, peakRssMB: r1(mb(r.fetch.rss.peak)), sampledRssMB: r1(mb(r.fetch.rss.sampledPeak)), hwmMB: r1(mb(r.fetch.rss.hwm)), startRssMB: r1(mb(r.fetch.rss.startRss)), rawPeakRssMB: r1(mb(r.raw.rss.peak)), cpu: { rawA: r3(r.raw.cpu.sources[0]), rawB: r3(r.raw.cpu.fetcher), fetchA: r3(r.fetch.cpu.sources[0]), fetchB: r3(r.fetch.cpu.fetcher), fetchBThreads: r.fetch.fetcherThreads, fetchAThreads: r.fetch.sourceThreads, ceilingBThreads: r.hashed.fetcherThreads, ceilingAThreads: r.hashed.sourceThreads } })),
        multi: multis.map((r, i) => ({ round: i + 1, MBps: r1(r.MBps), burstlessMBps: r1(burstless(r, r.joined.length, rate)), joined: r.joined.length, durationMs: r.durationMs, duplicates: r.duplicates, MBPerSeeder: r.bytesByPeer.map(b => r1(b / MB)) })),
        singleSeeder: singles.map((r, i) => ({ round: i + 1, MBps: r1(r.MBps), burstlessMBps: r1(burstless(r, 1, rate)), durationMs: r.durationMs }))
      }
    }))
    if (!(ceilingPass && multiPass && rssPass)) process.exitCode = 1
  } catch (err) {
    // show what the daemons said last: a crash there is the usual cause
    for (const d of daemons) {
      const tail = d.stderr().slice(-4000).trim()
      if (tail !== '') process.stderr.write(`--- daemon ${d.name} stderr (tail) ---\n${tail}\n`)
    }
    throw err
  } finally {
    clearTimeout(watchdog)
    // the error path: a seeder still serving would keep this process alive
    await helia?.worker.terminate()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    // daemons still running here are the error path: no graceful stop
    daemons.clear()
    killAll()
    await new Promise(resolve => setTimeout(resolve, children.size > 0 ? 300 : 0))
    cleanup()
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench/exchange: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 2
})
