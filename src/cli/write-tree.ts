import { createWriteStream, existsSync, renameSync, rmSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { InvalidPathError, OutputExistsError, OutputWriteError, ShoalError } from '../errors.js'
import type { ExportEntry } from '../api/index.js'

export interface WriteTreeOptions {
  /**
   * Replace what is at the output path, once the new content is complete
   *
   * @default false
   */
  force?: boolean
  /** The option that names the output, for messages @default '-o' */
  flag?: string
}

/**
 * Refuse an output path before any work is done: it must not exist (unless `force`), and its
 * directory must.
 */
export async function checkOutput (out: string, options: WriteTreeOptions = {}): Promise<void> {
  const root = path.resolve(out)
  if (options.force !== true && await exists(root)) {
    throw new OutputExistsError(`${out} already exists: remove it, pass --force, or choose another path with ${options.flag ?? '-o'}`)
  }
  try {
    const dir = await fs.stat(path.dirname(root))
    if (!dir.isDirectory()) throw Object.assign(new Error(), { code: 'ENOTDIR' })
  } catch (err: any) {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') {
      throw new OutputWriteError(`cannot write ${out}: ${path.dirname(out)} is not a directory: create it, or choose another path with ${options.flag ?? '-o'}`)
    }
    throw outputError(err, out)
  }
}

/**
 * Write an exported tree at `out`. Everything is written under a temporary sibling name first
 * and takes `out`'s name only once complete, so a failed write leaves `out` as it was. Nothing is
 * written outside that temporary path: every entry path is checked, files are created
 * exclusively, and no entry is written below a symlink the tree itself made.
 */
export async function writeTree (entries: AsyncIterable<ExportEntry>, out: string, options: WriteTreeOptions = {}): Promise<{ files: number, bytes: number }> {
  await checkOutput(out, options)
  const root = path.resolve(out)
  const state: Replacing = { tmp: siblingOf(root, 'shoal-partial'), root }
  const stopWatching = cleanUpOnInterrupt(state)
  try {
    let written: { files: number, bytes: number }
    try {
      written = await writeEntries(entries, state.tmp, out)
    } catch (err) {
      await fs.rm(state.tmp, { recursive: true, force: true })
      throw outputError(err, out)
    }
    try {
      await replace(state, out, options)
    } catch (err) {
      await fs.rm(state.tmp, { recursive: true, force: true })
      throw err instanceof ShoalError ? err : outputError(err, out)
    }
    return written
  } finally {
    stopWatching()
  }
}

/** An output being written: its temporary name, and where the old one is while it is replaced */
interface Replacing {
  tmp: string
  root: string
  aside?: string
}

/**
 * While an output is written, Ctrl-C (or SIGTERM) removes the partial output and puts back an
 * old one that was set aside, then exits: no hidden debris, and never a missing output
 */
function cleanUpOnInterrupt (state: Replacing): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    try {
      rmSync(state.tmp, { recursive: true, force: true })
      if (state.aside != null) {
        if (existsSync(state.root)) rmSync(state.aside, { recursive: true, force: true })
        else renameSync(state.aside, state.root)
      }
    } catch {}
    process.exit(signal === 'SIGINT' ? 130 : 143)
  }
  process.once('SIGINT', handler)
  process.once('SIGTERM', handler)
  return () => {
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  }
}

async function writeEntries (entries: AsyncIterable<ExportEntry>, tmp: string, out: string): Promise<{ files: number, bytes: number }> {
  const written = { files: 0, bytes: 0 }
  const links: string[] = []
  for await (const entry of entries) {
    const dest = entry.path === '' ? tmp : path.resolve(tmp, entry.path)
    if (dest !== tmp && !dest.startsWith(tmp + path.sep)) {
      throw new InvalidPathError(`refusing to write "${entry.path}": outside ${out}`)
    }
    if (links.some(l => dest.startsWith(l + path.sep))) {
      throw new InvalidPathError(`refusing to write "${entry.path}": below a symlink in the tree`)
    }
    if (entry.kind === 'directory') {
      await fs.mkdir(dest)
    } else if (entry.kind === 'symlink') {
      await fs.symlink(entry.target ?? '', dest)
      links.push(dest)
    } else {
      let size = 0
      const counted = (async function * () {
        for await (const chunk of entry.content ?? []) {
          size += chunk.byteLength
          yield chunk
        }
      })()
      await pipeline(Readable.from(counted), createWriteStream(dest, { flags: 'wx' }))
      written.files++
      written.bytes += size
    }
  }
  return written
}

/**
 * Give `tmp` the name `root`. Without `force` nothing may be there. With it, a file is replaced
 * in one rename; where either side is a directory the old one is renamed aside, the new one in,
 * and only then is the old one removed (put back if the second rename fails).
 */
async function replace (state: Replacing, out: string, options: WriteTreeOptions): Promise<void> {
  const { tmp, root } = state
  const old = await fs.lstat(root).catch((err: any) => { if (err.code === 'ENOENT') return undefined; throw err })
  if (old == null) {
    await fs.rename(tmp, root)
    return
  }
  if (options.force !== true) throw new OutputExistsError(`${out} appeared while it was being written: remove it, pass --force, or choose another path with ${options.flag ?? '-o'}`)
  const fresh = await fs.lstat(tmp)
  if (!old.isDirectory() && !fresh.isDirectory()) {
    await fs.rename(tmp, root)
    return
  }
  const aside = siblingOf(root, 'shoal-old')
  await fs.rename(root, aside)
  state.aside = aside
  try {
    await fs.rename(tmp, root)
  } catch (err: any) {
    try {
      await fs.rename(aside, root)
      state.aside = undefined
    } catch {
      throw new OutputWriteError(`cannot write ${out} (${String(err.code ?? err.message)}), and the old ${out} could not be put back: it is at ${aside}`)
    }
    throw err
  }
  try {
    await fs.rm(aside, { recursive: true, force: true })
  } catch (err: any) {
    // the new output is in place: the old one left over is worth a line, not a failure
    process.stderr.write(`shoal: warning: the old ${out} could not be removed (${String(err.code ?? err.message)}); it is at ${aside}\n`)
  }
  state.aside = undefined
}

/** A hidden name beside `p`, unique to this call */
export function siblingOf (p: string, suffix: string): string {
  return path.join(path.dirname(p), `.${path.basename(p)}.${randomBytes(4).toString('hex')}.${suffix}`)
}

async function exists (p: string): Promise<boolean> {
  try {
    await fs.lstat(p)
    return true
  } catch (err: any) {
    if (err.code === 'ENOENT') return false
    throw err
  }
}

/**
 * A file system error on a temporary name, restated on the path the user gave; errors that
 * are not from the file system pass through
 */
export function outputError (err: any, out: string): unknown {
  if (err instanceof ShoalError || typeof err?.code !== 'string' || typeof err?.syscall !== 'string') return err
  const reasons: Record<string, string> = {
    ENOENT: 'no such file or directory',
    ENOTDIR: `${path.dirname(out)} is not a directory`,
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded'
  }
  return new OutputWriteError(`cannot write ${out}: ${reasons[err.code] ?? err.code} (${err.code})`)
}
