import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { MiB } from '../constants.js'
import { PathNotFoundError } from '../errors.js'
import type { ImportEntry } from './import.js'

/**
 * The entries of a file or directory tree on disk, named from its basename, in a stable order
 * (sorted by name) so the same tree always gives the same CID. Symlinks inside the tree are
 * imported as UnixFS symlinks, never followed; a symlink given as the target itself is followed,
 * as `cp` does, and the entry keeps the name given. The path is checked up front so a bad path
 * fails before anything is written. Sockets, FIFOs and devices inside the tree have no UnixFS
 * form: they are left out, and `onSkip` is told of each.
 */
export async function fsSource (target: string, options: FsSourceOptions = {}): Promise<AsyncIterable<ImportEntry>> {
  const abs = path.resolve(target)
  let st
  try {
    st = await fs.stat(abs)
    if (st.isFile()) await fs.access(abs, fs.constants.R_OK)
    if (st.isDirectory()) await fs.access(abs, fs.constants.R_OK | fs.constants.X_OK)
  } catch (err: any) {
    if (err.code === 'ENOENT') throw new PathNotFoundError(`${target}: no such file or directory`)
    if (err.code === 'EACCES') throw new PathNotFoundError(`${target}: permission denied`)
    throw err
  }
  const name = path.basename(abs)
  if (!st.isFile() && !st.isDirectory()) {
    throw new PathNotFoundError(`${target}: not a regular file or directory`)
  }
  return walk(abs, name, st.isDirectory(), options)
}

export interface FsSourceOptions {
  /** A path in the tree that is left out (a socket, FIFO or device) */
  onSkip?(path: string): void
}

async function * walk (abs: string, rel: string, isDir: boolean, options: FsSourceOptions): AsyncGenerator<ImportEntry> {
  if (!isDir) {
    yield { path: rel, kind: 'file', content: readFile(abs) }
    return
  }
  yield { path: rel, kind: 'directory' }
  const children = await fs.readdir(abs, { withFileTypes: true })
  children.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  for (const child of children) {
    const childAbs = path.join(abs, child.name)
    const childRel = `${rel}/${child.name}`
    if (child.isDirectory()) {
      yield * walk(childAbs, childRel, true, options)
    } else if (child.isFile()) {
      yield * walk(childAbs, childRel, false, options)
    } else if (child.isSymbolicLink()) {
      yield { path: childRel, kind: 'symlink', target: await fs.readlink(childAbs) }
    } else {
      options.onSkip?.(childRel)
    }
  }
}

async function * readFile (abs: string): AsyncGenerator<Uint8Array> {
  yield * createReadStream(abs, { highWaterMark: MiB }) as AsyncIterable<Buffer>
}
