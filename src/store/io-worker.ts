/**
 * The block I/O thread's side (see io-thread.ts): hashes blocks and writes them to disk straight
 * from shared memory, so the event loop that received a block spends one message on it instead
 * of a hash job and six file system calls. Each block is hashed and written here, one at a time,
 * with synchronous calls; only its sync (fdatasync), the long wait, goes to the thread pool, so the
 * next block is hashed and written while the last ones reach the disk (docs/performance.md has
 * the figures). Replies may come in any order.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { parentPort } from 'node:worker_threads'
import type { IoBufferJob, IoForget, IoJob, IoReadJob, IoReply } from './io-thread.js'

/** The shared buffers the caller's thread gave, by id, until it says to forget one */
const buffers = new Map<number, SharedArrayBuffer>()

const DIRECT_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_DIRECT
/** A free file (free-files.ts) is written where it is, whatever it held */
const REUSE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_DIRECT

/**
 * A whole file into a buffer made here, transferred with the reply. Synchronous: a served block
 * is usually in the page cache, and four calls in one go cost less than four trips through the
 * thread pool
 */
function read (job: IoReadJob): { reply: IoReply, transfer: ArrayBuffer[] } {
  const fd = fs.openSync(job.file, 'r')
  try {
    const size = fs.fstatSync(fd).size
    if (size > job.max) return { reply: { id: job.id, tooLarge: size }, transfer: [] }
    const data = new ArrayBuffer(size)
    const view = new Uint8Array(data)
    let done = 0
    while (done < size) {
      const n = fs.readSync(fd, view, done, size - done, done)
      if (n === 0) break
      done += n
    }
    // a file cut short under the read (it never is: blocks do not change under their name)
    const got = done === size ? data : data.slice(0, done)
    return { reply: { id: job.id, data: got }, transfer: [got] }
  } finally {
    fs.closeSync(fd)
  }
}

/** A whole file into shared memory the caller keeps; nothing is read when it does not fit */
function readInto (id: number, file: string, view: Uint8Array): IoReply {
  const fd = fs.openSync(file, 'r')
  try {
    const size = fs.fstatSync(fd).size
    if (size > view.byteLength) return { id, tooLarge: size }
    let done = 0
    while (done < size) {
      const n = fs.readSync(fd, view, done, size - done, done)
      if (n === 0) break
      done += n
    }
    return { id, size: done }
  } finally {
    fs.closeSync(fd)
  }
}

async function run (job: IoBufferJob): Promise<IoReply> {
  if (job.share != null) buffers.set(job.buffer, job.share)
  const buffer = buffers.get(job.buffer)
  if (buffer == null) throw new Error(`no shared buffer ${job.buffer}`)
  const view = new Uint8Array(buffer, job.offset, job.length)
  if (job.op === 'readInto') return readInto(job.id, job.file, view)
  if (job.op === 'sha256') {
    const digest = createHash('sha256').update(view).digest()
    return { id: job.id, digest: new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength) }
  }
  if (job.digest != null) {
    const digest = createHash('sha256').update(view.subarray(0, job.size)).digest()
    if (Buffer.compare(digest, job.digest) !== 0) return { id: job.id, mismatch: true }
  }
  let fd: number
  try {
    fd = fs.openSync(job.tmp, job.reuse === true ? REUSE_FLAGS : DIRECT_FLAGS, 0o644)
  } catch (err: any) {
    if (err.code !== 'EINVAL') throw err
    // Linux creates the file before it refuses the flag
    fs.rmSync(job.tmp, { force: true })
    return { id: job.id, refused: true }
  }
  try {
    // a free file is usually empty, but one a crash left may hold more than this block
    const held = job.reuse === true ? fs.fstatSync(fd).size : 0
    let written = 0
    while (written < view.byteLength) written += fs.writeSync(fd, view, written, view.byteLength - written, written)
    if (view.byteLength !== job.size || held > job.size) fs.ftruncateSync(fd, job.size)
    // the one long wait, in the thread pool: the next block is hashed and written meanwhile
    if (job.fsync) await new Promise<void>((resolve, reject) => { fs.fdatasync(fd, (err) => { err != null ? reject(err) : resolve() }) })
  } catch (err: any) {
    fs.closeSync(fd)
    fs.rmSync(job.tmp, { force: true })
    if (err.code === 'EINVAL') return { id: job.id, refused: true }
    throw err
  }
  fs.closeSync(fd)
  try {
    if (job.shard != null) fs.mkdirSync(job.shard, { recursive: true })
    fs.renameSync(job.tmp, job.final)
  } catch (err) {
    fs.rmSync(job.tmp, { force: true })
    throw err
  }
  return { id: job.id, stored: true }
}

parentPort?.on('message', (job: IoJob | IoForget) => {
  if (job.op === 'forget') {
    // a job still using the buffer holds its own view of it
    buffers.delete(job.buffer)
    return
  }
  const failed = (err: any): IoReply => ({ id: job.id, error: { message: err.message ?? String(err), code: err.code } })
  if (job.op === 'read') {
    let done
    try {
      done = read(job)
    } catch (err) {
      done = { reply: failed(err), transfer: [] }
    }
    parentPort?.postMessage(done.reply, done.transfer)
    return
  }
  void run(job).catch(failed).then((reply) => { parentPort?.postMessage(reply) })
})
