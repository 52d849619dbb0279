import { importer } from 'ipfs-unixfs-importer'
import { DEFAULT_BLOCK_WRITE_CONCURRENCY, PROFILES, WRITE_BEHIND_BYTES } from '../constants.js'
import { CONFIG_DEFAULTS } from '../defaults.js'
import { InvalidArgumentError, InvalidProfileError } from '../errors.js'
import { WriteBehind } from './write-behind.js'
import type { CID } from 'multiformats/cid'
import type { Blockstore } from 'interface-blockstore'

/** One file, directory or symlink to import; paths use `/` and share one top-level name */
export interface ImportEntry {
  path: string
  kind: 'file' | 'directory' | 'symlink'
  /** File bytes, read once */
  content?: AsyncIterable<Uint8Array>
  /** Symlink target */
  target?: string
}

export interface ImportResult {
  cid: CID
  /** Bytes of file content imported (summed over a tree) */
  size: number
  /** The top-level name */
  name: string
}

/** Sampled after each chunk of file bytes read: `import:bytes`; once at the end: `import:done` */
export type ImportProgressEvent =
  | { type: 'import:bytes', bytes: number }
  | { type: 'import:done', bytes: number }

export interface ImportOptions {
  /**
   * IPIP-499 profile
   * @default 'unixfs-v1-2025'
   */
  profile?: string
  signal?: AbortSignal
  onProgress?(event: ImportProgressEvent): void
}

/**
 * Import entries as one UnixFS DAG and return its root. Files flow chunk by chunk from the source
 * into the store, so memory stays flat whatever the size. `blocks.put` must not keep the bytes it
 * is handed once it resolves: they are in a buffer used again for a later block (write-behind.ts).
 */
export async function importContent (entries: AsyncIterable<ImportEntry>, blocks: Pick<Blockstore, 'put'>, options: ImportOptions = {}): Promise<ImportResult> {
  const profile = options.profile ?? CONFIG_DEFAULTS.publish.profile
  if (!(PROFILES as readonly string[]).includes(profile)) {
    throw new InvalidProfileError(profile, PROFILES)
  }
  let bytes = 0
  let top: string | undefined
  const signal = options.signal

  const counted = async function * (content: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of content) {
      signal?.throwIfAborted()
      bytes += chunk.byteLength
      options.onProgress?.({ type: 'import:bytes', bytes })
      yield chunk
    }
  }

  const candidates = async function * () {
    for await (const entry of entries) {
      const name = topName(entry.path)
      if (top == null) top = name
      else if (name !== top) {
        throw new InvalidArgumentError(`cannot import "${entry.path}" beside "${top}": an import has one top-level file or directory`)
      }
      if (entry.kind === 'file') {
        yield { path: entry.path, content: counted(entry.content ?? empty()) }
      } else if (entry.kind === 'directory') {
        yield { path: entry.path }
      } else {
        yield { path: entry.path, link: entry.target ?? '' }
      }
    }
  }

  const writer = new WriteBehind(blocks, WRITE_BEHIND_BYTES)
  let root: { cid: CID, path?: string } | undefined
  for await (const result of importer(candidates(), writer, {
    profile: profile as 'unixfs-v1-2025' | 'unixfs-v0-2015',
    // one file at a time: entries may arrive over a single stream (the control API), where a
    // file's bytes must be read before the next entry can be
    fileImportConcurrency: 1,
    blockWriteConcurrency: DEFAULT_BLOCK_WRITE_CONCURRENCY
  })) {
    signal?.throwIfAborted()
    if (result.path === top || root == null) {
      root = result
    }
  }
  await writer.flush()
  if (root == null || top == null) {
    throw new InvalidArgumentError('nothing to import')
  }
  options.onProgress?.({ type: 'import:done', bytes })
  return { cid: root.cid, size: bytes, name: top }
}

/** The top-level name of an entry path; every segment must be a plain name */
function topName (p: string): string {
  const segments = p.split('/')
  if (segments.some(seg => seg === '' || seg === '.' || seg === '..')) {
    throw new InvalidArgumentError(`invalid import path "${p}": empty, "." and ".." segments are not allowed`)
  }
  return segments[0] as string
}

async function * empty (): AsyncGenerator<Uint8Array> {}
