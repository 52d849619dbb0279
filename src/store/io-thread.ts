/**
 * A thread that hashes and writes blocks held in shared memory (the exchange receives blocks
 * into such memory, see aligned.ts), so a fetch's event loop is free for the network.
 *
 * Profiling a 1 GiB fetch (wall-clock samples, two busy cores) put ~1.4 s of the fetcher's
 * event loop into work that needs no JavaScript: ~0.7 s handing blocks to WebCrypto (which
 * copies each one before hashing it off the thread) and ~0.7 s in the open, write, truncate,
 * sync, close, mkdir and rename calls each block took through the thread pool. Here each block
 * is one message: the bytes are shared, not copied, and the thread makes the calls in one go.
 *
 * One thread, started on first use, not keeping the process alive while idle, and stopped after
 * IO_THREAD_IDLE_STOP without work (the next job starts a new one). If it ever fails, the jobs
 * it held fail with an error coded IO_THREAD_FAILED and callers do the work on their own thread
 * from then on (`ioThread()` returns undefined).
 */
import { Worker } from 'node:worker_threads'
import { IO_THREAD_IDLE_STOP } from '../constants.js'

/**
 * A job for the thread. `buffer` names shared memory the thread was given once (in `share`, with
 * the first job on it) and holds until told to forget it: a buffer sent with every job would
 * leave the thread a handle on it per job, keeping its memory alive until the thread's own
 * (rare) garbage collection.
 */
export type IoJob = IoBufferJob | IoReadJob

/** A job on bytes in shared memory the caller's thread holds */
export type IoBufferJob = { id: number, buffer: number, share?: SharedArrayBuffer, offset: number, length: number } & Job

/** What is done with a job's bytes in shared memory */
type Job =
  | { op: 'sha256' }
  | { op: 'readInto', file: string }
  | ({ op: 'write' } & DirectTarget)

/**
 * Read a whole file into memory of the thread's own, handed over (transferred, not copied) with
 * the reply; a file larger than `max` is not read (`tooLarge`)
 */
export interface IoReadJob { op: 'read', id: number, file: string, max: number }

/** Where and how `writeDirect` stores a block */
export interface DirectTarget {
  /** Where to write (created, must not exist, unless `reuse`) */
  tmp: string
  /** `tmp` is a free file (free-files.ts) of this caller's: written over and cut to `size` */
  reuse?: boolean
  /** What to rename it to once written (and synced) */
  final: string
  /** A directory to create before the rename, if not known to exist */
  shard?: string
  /** The block's size: the view is rounded up to the alignment, the file is cut back */
  size: number
  fsync: boolean
  /** SHA-256 the block's bytes must have: checked first, nothing is written on a mismatch */
  digest?: Uint8Array
}

export interface IoReply {
  id: number
  digest?: Uint8Array
  stored?: true
  /** The file system refused direct I/O: nothing was left behind, write through the cache */
  refused?: true
  /** The block does not have the digest it was to have: nothing was written */
  mismatch?: true
  /** A read's bytes */
  data?: ArrayBuffer
  /** How many bytes `readInto` read */
  size?: number
  /** A read's file is larger than its `max` (or than the memory to read it into): its size */
  tooLarge?: number
  error?: { message: string, code?: string }
}

export interface IoThread {
  /** SHA-256 of a view into shared memory */
  sha256(view: Uint8Array): Promise<Uint8Array>
  /**
   * Write `view` (aligned, in shared memory) to `tmp` with O_DIRECT, cut it to `size`, sync it,
   * and rename it to `final`; with a `digest`, only if the block's `size` bytes hash to it (one
   * job for a received block: verified and stored). Resolves 'refused', leaving nothing behind,
   * where the file system refuses direct I/O, and 'mismatch', writing nothing, when the digest
   * differs; rejects (leaving nothing at `tmp`) on any other failure.
   */
  writeDirect(view: Uint8Array, target: DirectTarget): Promise<'stored' | 'refused' | 'mismatch'>
  /**
   * A whole file, read on the thread into memory of its own that is handed over with the reply:
   * one message for the caller's event loop instead of an open, a stat, reads and a close through
   * the thread pool, and no buffer allocated on it. Resolves undefined, reading nothing, when the
   * file is larger than `max`; rejects with the file system's error (ENOENT for a missing file).
   */
  read(file: string, max: number): Promise<Uint8Array | undefined>
  /**
   * A whole file read into `into` (shared memory, kept by the caller and used again): like
   * `read`, one message, and no memory made per file. Resolves the file's size, or undefined,
   * reading nothing, when the file is larger than `into`.
   */
  readInto(file: string, into: Uint8Array): Promise<number | undefined>
}

/** Tells the thread to drop its handle on a buffer the caller's thread no longer holds */
export interface IoForget { op: 'forget', buffer: number }

/** The code of the error jobs fail with when the thread itself failed (not the job) */
export const IO_THREAD_FAILED = 'ERR_IO_THREAD_FAILED'

let thread: (IoThread & { stop(): Promise<void> }) | undefined
let failed = false
let idleStopMs = IO_THREAD_IDLE_STOP

/** How long the thread may sit idle before it stops (IO_THREAD_IDLE_STOP unless set, as tests do) */
export function setIoThreadIdleStop (ms: number): void {
  idleStopMs = ms
}

/** Whether `view` lies in memory another thread can read without a copy */
export function isShared (view: Uint8Array): boolean {
  return view.buffer instanceof SharedArrayBuffer
}

/** The I/O thread, started on first use; undefined once it has failed */
export function ioThread (): IoThread | undefined {
  if (failed) return undefined
  thread ??= start()
  return thread
}

/**
 * Stop the thread: jobs it still holds fail (IO_THREAD_FAILED) and their callers do them on
 * their own thread; the next `ioThread()` starts a new one
 */
export async function stopIoThread (): Promise<void> {
  const t = thread
  thread = undefined
  await t?.stop()
}

function start (): IoThread & { stop(): Promise<void> } {
  const worker = new Worker(new URL('./io-worker.js', import.meta.url))
  worker.unref()
  // each job's buffer is held here until its reply, so it cannot be forgotten while in use
  const pending = new Map<number, { resolve(r: IoReply): void, reject(err: Error): void, buffer?: SharedArrayBuffer }>()
  let nextId = 0
  const bufferIds = new WeakMap<SharedArrayBuffer, number>()
  let nextBufferId = 0
  const forgotten = new FinalizationRegistry<number>((buffer) => {
    if (!stopping) worker.postMessage({ op: 'forget', buffer } satisfies IoForget)
  })

  let stopping = false
  let idle: ReturnType<typeof setTimeout> | undefined
  const fail = (err: Error): void => {
    if (!stopping) {
      failed = true
      thread = undefined
    }
    for (const p of pending.values()) p.reject(err)
    pending.clear()
  }
  worker.on('message', (reply: IoReply) => {
    const p = pending.get(reply.id)
    if (p == null) return
    pending.delete(reply.id)
    if (pending.size === 0) {
      worker.unref()
      idle = setTimeout(() => { if (thread === self) void stopIoThread() }, idleStopMs).unref()
    }
    if (reply.error != null) {
      p.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }))
    } else {
      p.resolve(reply)
    }
  })
  worker.on('error', (err) => { fail(Object.assign(new Error(`the block I/O thread failed: ${err.message}`), { code: IO_THREAD_FAILED })) })
  worker.on('exit', (code) => { fail(Object.assign(new Error(`the block I/O thread exited with code ${code}`), { code: IO_THREAD_FAILED })) })

  const post = async (message: IoJob, buffer?: SharedArrayBuffer): Promise<IoReply> => {
    return await new Promise<IoReply>((resolve, reject) => {
      clearTimeout(idle)
      pending.set(message.id, { resolve, reject, buffer })
      // referenced while it holds work, so the process waits for it
      if (pending.size === 1) worker.ref()
      worker.postMessage(message)
    })
  }

  const send = async (view: Uint8Array, job: Job): Promise<IoReply> => {
    if (stopping) throw Object.assign(new Error('the block I/O thread was stopped'), { code: IO_THREAD_FAILED })
    const buffer = view.buffer
    if (!(buffer instanceof SharedArrayBuffer)) throw new TypeError('the block I/O thread takes views into shared memory only')
    let bufferId = bufferIds.get(buffer)
    let share: SharedArrayBuffer | undefined
    if (bufferId == null) {
      bufferId = nextBufferId++
      bufferIds.set(buffer, bufferId)
      forgotten.register(buffer, bufferId)
      share = buffer
    }
    const id = nextId++
    const message = { ...job, id, buffer: bufferId, share, offset: view.byteOffset, length: view.byteLength } as IoJob
    return await post(message, buffer)
  }

  const self: IoThread & { stop(): Promise<void> } = {
    async stop () {
      stopping = true
      clearTimeout(idle)
      await worker.terminate()
      fail(Object.assign(new Error('the block I/O thread was stopped'), { code: IO_THREAD_FAILED }))
    },
    async sha256 (view) {
      return (await send(view, { op: 'sha256' })).digest as Uint8Array
    },
    async writeDirect (view, target) {
      // a digest is often a view into a larger buffer (the parent block its CID was read from),
      // and a message carries a view's whole buffer: its 32 bytes go in a buffer of their own
      const digest = target.digest?.slice()
      const reply = await send(view, { op: 'write', ...target, digest })
      return reply.stored === true ? 'stored' : reply.mismatch === true ? 'mismatch' : 'refused'
    },
    async readInto (file, into) {
      const reply = await send(into, { op: 'readInto', file })
      return reply.tooLarge != null ? undefined : reply.size
    },
    async read (file, max) {
      if (stopping) throw Object.assign(new Error('the block I/O thread was stopped'), { code: IO_THREAD_FAILED })
      const reply = await post({ op: 'read', id: nextId++, file, max })
      return reply.data == null ? undefined : Buffer.from(reply.data)
    }
  }
  return self
}
