import * as raw from 'multiformats/codecs/raw'
import { InvalidPathError, PathNotFoundError } from '../errors.js'
import type { ContentPath } from './path.js'
import type { CID } from 'multiformats/cid'
import type { Blockstore } from 'interface-blockstore'
import type { UnixFSEntry } from 'ipfs-unixfs-exporter'

type Blocks = Pick<Blockstore, 'get'>

/** The UnixFS exporter, loaded by the reads that walk a DAG: a raw block is read without it */
async function exporter (): Promise<typeof import('ipfs-unixfs-exporter').exporter> {
  return (await import('ipfs-unixfs-exporter')).exporter
}

function pathString (p: ContentPath): string {
  return [p.cid.toString(), ...p.segments].join('/')
}

async function resolve (p: ContentPath, blocks: Blocks, signal?: AbortSignal): Promise<UnixFSEntry> {
  try {
    return await (await exporter())(pathString(p), blocks, { signal })
  } catch (err: any) {
    if (err.name === 'NotFoundError' && p.segments.length > 0) {
      throw new PathNotFoundError(`no link named by ${pathString(p)}`)
    }
    throw err
  }
}

export interface CatOptions {
  offset?: number
  length?: number
  signal?: AbortSignal
}

/** The bytes of a file in the DAG, in order, optionally a byte range of it */
export async function * cat (blocks: Blocks, p: ContentPath, options: CatOptions = {}): AsyncGenerator<Uint8Array> {
  if (options.offset != null && options.offset < 0) throw new InvalidPathError('offset must be 0 or more')
  if (options.length != null && options.length < 0) throw new InvalidPathError('length must be 0 or more')
  if (p.cid.code === raw.code && p.segments.length === 0) {
    // a raw block is the file: its bytes, as the exporter would give them
    const chunks: Uint8Array[] = []
    for await (const chunk of blocks.get(p.cid, { signal: options.signal }) as AsyncIterable<Uint8Array>) chunks.push(chunk)
    const bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
    const start = Math.min(options.offset ?? 0, bytes.byteLength)
    const end = options.length != null ? Math.min(start + options.length, bytes.byteLength) : bytes.byteLength
    if (end > start) yield bytes.subarray(start, end)
    return
  }
  const entry = await resolve(p, blocks, options.signal)
  if (entry.type === 'directory') {
    throw new InvalidPathError(`${pathString(p)} is a directory: use "shoal get" or "shoal ls"`)
  }
  if (entry.type === 'object') {
    throw new InvalidPathError(`${pathString(p)} is not a UnixFS file`)
  }
  if (entry.type === 'file' && entry.unixfs.type === 'symlink') {
    // its target is a path on the publisher's disk, which may lead out of the DAG: not followed
    const target = new TextDecoder().decode(entry.unixfs.data)
    throw new InvalidPathError(`${pathString(p)} is a symlink to ${target}; cat does not follow symlinks: cat the path it points to`)
  }
  const size = Number(entry.size)
  if (options.offset != null && options.offset >= size) return
  if (options.length === 0) return
  yield * entry.content({ offset: options.offset, length: options.length, signal: options.signal })
}

/** One entry of an exported tree; `path` is relative to the root, '' for the root itself */
export interface ExportEntry {
  path: string
  kind: 'file' | 'directory' | 'symlink'
  size: number
  content?: AsyncIterable<Uint8Array>
  target?: string
}

/** Every entry under a path, parents before children */
export async function * exportTree (blocks: Blocks, p: ContentPath, options: { signal?: AbortSignal } = {}): AsyncGenerator<ExportEntry> {
  const signal = options.signal
  const walk = async function * (entry: UnixFSEntry, rel: string): AsyncGenerator<ExportEntry> {
    if (entry.type === 'directory') {
      yield { path: rel, kind: 'directory', size: 0 }
      for await (const child of entry.entries({ signal })) {
        if (child.name === '' || child.name === '.' || child.name === '..' || child.name.includes('/') || child.name.includes('\\')) {
          throw new InvalidPathError(`refusing entry "${child.name}" under "${rel}": its name could escape the output directory`)
        }
        yield * walk(await (await exporter())(child.cid, blocks, { signal }), rel === '' ? child.name : `${rel}/${child.name}`)
      }
    } else if (entry.type === 'file' && entry.unixfs.type === 'symlink') {
      yield { path: rel, kind: 'symlink', size: 0, target: new TextDecoder().decode(entry.unixfs.data) }
    } else if (entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity') {
      yield { path: rel, kind: 'file', size: Number(entry.size), content: entry.content({ signal }) }
    } else {
      throw new InvalidPathError(`${entry.path} is not UnixFS`)
    }
  }
  yield * walk(await resolve(p, blocks, signal), '')
}

export interface ListEntry {
  name: string
  cid: CID
  kind: 'file' | 'directory' | 'symlink' | 'other'
  size: number
}

/** What a path is, with its size */
export async function statPath (blocks: Blocks, p: ContentPath, options: { signal?: AbortSignal } = {}): Promise<{ kind: ListEntry['kind'], size: number }> {
  const entry = await resolve(p, blocks, options.signal)
  return { kind: kindOf(entry), size: Number(entry.size) }
}

/** The entries of a directory (or the single entry of a file) */
export async function list (blocks: Blocks, p: ContentPath, options: { signal?: AbortSignal } = {}): Promise<ListEntry[]> {
  if (p.cid.code === raw.code && p.segments.length === 0) {
    // a raw block is a file of its bytes, as the exporter would list it, without loading it
    let size = 0
    for await (const chunk of blocks.get(p.cid, { signal: options.signal }) as AsyncIterable<Uint8Array>) size += chunk.byteLength
    return [{ name: p.cid.toString(), cid: p.cid, kind: 'file', size }]
  }
  const entry = await resolve(p, blocks, options.signal)
  if (entry.type !== 'directory') {
    return [{ name: entry.name, cid: entry.cid, kind: kindOf(entry), size: Number(entry.size) }]
  }
  const out: ListEntry[] = []
  for await (const child of entry.entries({ signal: options.signal })) {
    const full = await (await exporter())(child.cid, blocks, { signal: options.signal })
    out.push({ name: child.name, cid: child.cid, kind: kindOf(full), size: Number(full.size) })
  }
  return out
}

function kindOf (entry: UnixFSEntry): ListEntry['kind'] {
  if (entry.type === 'directory') return 'directory'
  if (entry.type === 'file') return entry.unixfs.type === 'symlink' ? 'symlink' : 'file'
  if (entry.type === 'raw' || entry.type === 'identity') return 'file'
  return 'other'
}
