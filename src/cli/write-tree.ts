import { createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { InvalidPathError, ShoalError } from '../errors.js'
import type { ExportEntry } from '../api/index.js'

class OutputExistsError extends ShoalError {
  override readonly status = 400
}

/**
 * Write an exported tree under `out`. Nothing is written outside `out`: every entry path is
 * checked, and files are created exclusively, so an existing file or symlink is never written
 * through. A file is written under a temporary name and renamed when complete.
 */
export async function writeTree (entries: AsyncIterable<ExportEntry>, out: string): Promise<{ files: number, bytes: number }> {
  const root = path.resolve(out)
  const written = { files: 0, bytes: 0 }
  try {
    await fs.lstat(root)
    throw new OutputExistsError(`${out} already exists: remove it, pass --force, or choose another path with -o`)
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw err
  }
  for await (const entry of entries) {
    const dest = entry.path === '' ? root : path.resolve(root, entry.path)
    if (dest !== root && !dest.startsWith(root + path.sep)) {
      throw new InvalidPathError(`refusing to write "${entry.path}": outside ${out}`)
    }
    if (entry.kind === 'directory') {
      await fs.mkdir(dest, { recursive: dest === root })
    } else if (entry.kind === 'symlink') {
      await fs.symlink(entry.target ?? '', dest)
    } else {
      const tmp = `${dest}.shoal-partial`
      let size = 0
      const counted = (async function * () {
        for await (const chunk of entry.content ?? []) {
          size += chunk.byteLength
          yield chunk
        }
      })()
      try {
        await pipeline(Readable.from(counted), createWriteStream(tmp, { flags: 'wx' }))
        await fs.rename(tmp, dest)
      } catch (err) {
        await fs.rm(tmp, { force: true })
        throw err
      }
      written.files++
      written.bytes += size
    }
  }
  return written
}
