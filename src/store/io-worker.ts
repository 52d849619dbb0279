/**
 * The block I/O thread's side (see io-thread.ts): hashes blocks and writes them to disk straight
 * from shared memory, each job in one go with synchronous calls, so the event loop that received
 * the block spends one message on it instead of a hash job and six file system calls.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import { parentPort } from 'node:worker_threads'
import type { IoForget, IoJob, IoReply } from './io-thread.js'

/** The shared buffers the caller's thread gave, by id, until it says to forget one */
const buffers = new Map<number, SharedArrayBuffer>()

function run (job: IoJob): IoReply {
  if (job.share != null) buffers.set(job.buffer, job.share)
  const buffer = buffers.get(job.buffer)
  if (buffer == null) throw new Error(`no shared buffer ${job.buffer}`)
  const view = new Uint8Array(buffer, job.offset, job.length)
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
    fd = fs.openSync(job.tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_DIRECT, 0o644)
  } catch (err: any) {
    if (err.code !== 'EINVAL') throw err
    // Linux creates the file before it refuses the flag
    fs.rmSync(job.tmp, { force: true })
    return { id: job.id, refused: true }
  }
  try {
    let written = 0
    while (written < view.byteLength) written += fs.writeSync(fd, view, written, view.byteLength - written, written)
    if (view.byteLength !== job.size) fs.ftruncateSync(fd, job.size)
    if (job.fsync) fs.fdatasyncSync(fd)
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
    buffers.delete(job.buffer)
    return
  }
  let reply: IoReply
  try {
    reply = run(job)
  } catch (err: any) {
    reply = { id: job.id, error: { message: err.message ?? String(err), code: err.code } }
  }
  parentPort?.postMessage(reply)
})
