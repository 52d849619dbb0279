/**
 * Helia nodes for the benches that compare shoal with IPFS in the same run (bench/bitswap,
 * bench/exchange): a seeder that imports a file in a worker thread and serves it over bitswap, and
 * a fresh fetcher that cats a CID from it, hashing as it streams. Each on its own event loop, as
 * with two daemons. The seeder imports with `profile: 'unixfs-v1-2025'`, shoal's default, so both
 * serve the same DAG (the benches check the CIDs are equal).
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { unixfs } from '@helia/unixfs'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { startHelia } from '../test/helpers/helia.js'

const MiB = 1024 * 1024
const MB = 1e6
const second = 1000
/** The import profile of the seeder: shoal's default */
export const HELIA_PROFILE = 'unixfs-v1-2025'
/** What the worker is told, so that importing this module elsewhere starts nothing */
const SEEDER_ROLE = 'helia-seeder'

/** Worker thread: a Helia node imports the file, says its CID and address, serves until told to stop */
async function seeder (file: string): Promise<void> {
  const port = parentPort
  if (port == null) return
  const helia = await startHelia()
  const cid = await unixfs(helia).addByteStream(createReadStream(file, { highWaterMark: MiB }), { profile: HELIA_PROFILE } as any)
  port.postMessage({ cid: cid.toString(), addr: helia.libp2p.getMultiaddrs()[0].toString() })
  port.once('message', () => {
    void helia.stop().finally(() => { port.close() })
  })
}

export interface HeliaSeeder {
  cid: string
  addr: string
  worker: Worker
}

/** Start a Helia seeder of `file` on a worker thread; resolves once the file is imported */
export async function startHeliaSeeder (file: string, timeoutMs: number): Promise<HeliaSeeder> {
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { role: SEEDER_ROLE, file } })
  const info = await new Promise<{ cid: string, addr: string }>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`the Helia seeder did not import the file within ${Math.round(timeoutMs / second)} s`)) }, Math.ceil(timeoutMs))
    worker.once('message', (m) => { clearTimeout(timer); resolve(m) })
    worker.once('error', (err) => { clearTimeout(timer); reject(err) })
    worker.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the Helia seeder's worker exited with ${code}`)) })
  })
  return { ...info, worker }
}

export async function stopHeliaSeeder (s: HeliaSeeder | undefined): Promise<void> {
  if (s == null) return
  s.worker.postMessage('stop')
  const timer = setTimeout(() => { void s.worker.terminate() }, 10 * second)
  await new Promise(resolve => s.worker.once('exit', resolve))
  clearTimeout(timer)
}

export interface HeliaRun { MBps: number, ms: number }

/**
 * A fresh Helia node dials `addr` (untimed), then cats `cid` over bitswap, hashing as it streams;
 * throws unless it read `size` bytes whose SHA-256 is `sha`. MB/s is the file's bytes over the cat.
 */
export async function heliaFetch (addr: string, cid: string, size: number, sha: string, timeoutMs: number): Promise<HeliaRun> {
  const helia = await startHelia()
  try {
    const signal = AbortSignal.timeout(Math.ceil(timeoutMs))
    await helia.libp2p.dial(multiaddr(addr), { signal })
    const hash = createHash('sha256')
    let bytes = 0
    const started = performance.now()
    for await (const chunk of unixfs(helia).cat(CID.parse(cid), { signal })) {
      hash.update(chunk)
      bytes += chunk.byteLength
    }
    const ms = performance.now() - started
    const got = hash.digest('hex')
    if (bytes !== size || got !== sha) throw new Error(`Helia read ${bytes} bytes of ${cid} from ${addr} with SHA-256 ${got}; expected ${size} bytes, ${sha}`)
    return { MBps: size / MB / (ms / second), ms }
  } finally {
    await helia.stop()
  }
}

if (!isMainThread && workerData?.role === SEEDER_ROLE) {
  seeder(workerData.file).catch((err: unknown) => {
    process.stderr.write(`Helia seeder: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exit(2)
  })
}
