/**
 * Block files: how a block's key and shard follow from its CID, and the writes and reads of one
 * file that FsBlocks (blocks.ts) does beside its bookkeeping
 */
import fsCb from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import { base32 } from 'multiformats/bases/base32'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import type { AbortOptions } from '@libp2p/interface'

/** A block held in chunks (as it came off the network): one writev, no copy into one buffer */
export async function writeChunks (file: string, chunks: Uint8Array[], size: number, fsync: boolean): Promise<void> {
  const handle = await fs.open(file, 'wx')
  try {
    let written = (await handle.writev(chunks)).bytesWritten
    // a short write (rare on a regular file) goes on from where it stopped
    while (written < size) written += (await handle.writev(rest(chunks, written), written)).bytesWritten
    if (fsync) await handle.datasync()
  } finally {
    await handle.close()
  }
}

/** A block from a stream of chunks; `grown` is told the size so far, and may throw to stop */
export async function writeStreamed (file: string, val: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, fsync: boolean, grown: (size: number) => void): Promise<void> {
  const handle = await fs.open(file, 'wx')
  try {
    let size = 0
    for await (const chunk of val) {
      size += chunk.byteLength
      grown(size)
      await handle.write(chunk)
    }
    if (fsync) await handle.datasync()
  } finally {
    await handle.close()
  }
}

/** base32 (lowercase, unpadded) of the multihash: the file name of a block */
export function keyOf (cid: CID): string {
  return base32.encode(cid.multihash.bytes).slice(1)
}

export function cidOfKey (key: string): CID | undefined {
  try {
    return CID.createV1(raw.code, Digest.decode(base32.decode(`b${key}`)))
  } catch {
    return undefined
  }
}

/** Fill `buf` from `fd` at `position`, or up to the end of the file; resolves with the bytes read */
export async function readAt (fd: number, buf: Buffer, position: number): Promise<number> {
  let done = 0
  while (done < buf.byteLength) {
    const n = await new Promise<number>((resolve, reject) => {
      fsCb.read(fd, buf, done, buf.byteLength - done, position + done, (err, bytesRead) => { err != null ? reject(err) : resolve(bytesRead) })
    })
    if (n === 0) break
    done += n
  }
  return done
}

/** The chunks after the first `n` bytes, as views */
function rest (chunks: Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const c of chunks) {
    if (n >= c.byteLength) {
      n -= c.byteLength
      continue
    }
    out.push(n > 0 ? c.subarray(n) : c)
    n = 0
  }
  return out
}

export function shardOf (key: string): string {
  return key.slice(-3, -1)
}

/**
 * Every block file under `dir` (skipping the store's own directories, whose names start with a
 * dot: blocks being written, free files), as a raw CIDv1 of its multihash, with its size on disk
 * and last use (its mtime), in key order
 */
export async function * listBlockFiles (dir: string, options?: AbortOptions): AsyncGenerator<{ cid: CID, size: number, usedAt: number }> {
  let shards: string[]
  try {
    shards = await fs.readdir(dir)
  } catch (err: any) {
    if (err.code === 'ENOENT') return
    throw err
  }
  for (const shard of shards.sort()) {
    if (shard.startsWith('.')) continue
    options?.signal?.throwIfAborted()
    const files = await fs.readdir(path.join(dir, shard)).catch(() => [] as string[])
    for (const file of files.sort()) {
      const cid = cidOfKey(file)
      if (cid == null) continue
      const st = await fs.stat(path.join(dir, shard, file)).catch(() => null)
      if (st == null) continue
      yield { cid, size: st.size, usedAt: st.mtimeMs }
    }
  }
}
