import { randomBytes } from 'node:crypto'
import { exporter } from 'ipfs-unixfs-exporter'
import { SNIFF_BYTES } from '../constants.js'
import { PathNotFoundError } from '../errors.js'
import { contentTypeOf } from './content-type.js'
import { listingPage } from './listing.js'
import { multipartLayout, parseRange } from './range.js'
import { leavesOf } from './layout.js'
import { readLeaves, readRange } from './ranged.js'
import { plain } from './response.js'
import type { FileLayout } from './layout.js'
import type { ListingEntry } from './listing.js'
import type { GatewayRequest } from './server.js'
import type { UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'

/** A file, a directory's index.html, or a directory listing */
export async function serveUnixfs (ctx: GatewayRequest): Promise<void> {
  const name = ctx.query.get('filename') ?? (ctx.segments.length > 0 ? ctx.segments[ctx.segments.length - 1] : undefined)
  let entry: UnixFSEntry | undefined
  // a file's layout is kept: its next requests neither walk the path nor decode its root
  const layout = await ctx.layouts.resolve(ctx.contentPath, ctx.signal, async () => {
    entry = await resolve(ctx, [ctx.cid.toString(), ...ctx.segments].join('/'))
    return layoutOf(ctx, entry)
  })
  if (layout != null) return serveFile(ctx, fileOf(ctx, layout), name)
  // not a plain file: resolved by this request, or by another whose entry is its own
  entry ??= await resolve(ctx, [ctx.cid.toString(), ...ctx.segments].join('/'))
  if (entry.type === 'directory') {
    if (!ctx.rawPath.endsWith('/')) {
      // relative links in the listing or the page resolve against the directory only with a slash
      const q = ctx.query.toString()
      ctx.res.setHeader('Location', `${ctx.rawPath}/${q === '' ? '' : `?${q}`}`)
      return plain(ctx.res, 301, 'a directory: see the path with a trailing slash')
    }
    let index: UnixFSEntry | undefined
    try {
      index = await exporter(`${entry.cid}/index.html`, ctx.blocks.blockstore, { signal: ctx.signal })
    } catch (err: any) {
      if (err.name !== 'NotFoundError') throw err
    }
    if (index != null && (index.type === 'file' || index.type === 'raw')) {
      const indexLayout = await layoutOf(ctx, index)
      if (indexLayout != null) return serveFile(ctx, fileOf(ctx, indexLayout), 'index.html')
    }
    return serveListing(ctx, entry)
  }
  if (entry.type === 'file' && entry.unixfs.type === 'symlink') {
    return plain(ctx.res, 501, 'a symlink: the gateway does not follow symlinks')
  }
  if (entry.type === 'identity') {
    const e = entry
    return serveFile(ctx, { cid: e.cid, size: Number(e.size), read: (offset, length) => e.content({ offset, length, signal: ctx.signal }) }, name)
  }
  return plain(ctx.res, 501, `${entry.cid} is not UnixFS: ask for it with ?format=raw or ?format=car`)
}

/** Where the bytes of a plain file (not a symlink) are; undefined for anything else */
async function layoutOf (ctx: GatewayRequest, entry: UnixFSEntry): Promise<FileLayout | undefined> {
  const size = Number(entry.size)
  if (entry.type === 'raw') return { cid: entry.cid, size, leaves: [{ cid: entry.cid, offset: 0, size }] }
  if (entry.type !== 'file' || entry.unixfs.type === 'symlink') return undefined
  const leaves = await leavesOf(async (cid) => ctx.blocks.getBytes(cid, { signal: ctx.signal }), entry.cid, size, ctx.layouts.maxLeaves, entry.node)
  return { cid: entry.cid, size, ...(leaves != null ? { leaves } : {}) }
}

/** A file served from its layout, or by walking its DAG when the layout keeps no leaves */
function fileOf (ctx: GatewayRequest, layout: FileLayout): ServedFile {
  const leaves = layout.leaves
  return {
    cid: layout.cid,
    size: layout.size,
    read: leaves != null
      ? (offset, length) => readLeaves(ctx.blocks, leaves, offset, length, ctx.signal)
      : (offset, length) => readRange(ctx.blocks, layout.cid, offset, length, ctx.signal)
  }
}

async function resolve (ctx: GatewayRequest, path: string): Promise<UnixFSEntry> {
  try {
    return await exporter(path, ctx.blocks.blockstore, { signal: ctx.signal })
  } catch (err: any) {
    // a path into a file meets links without names: no link named by it either
    if (err.name === 'NotFoundError' || (err.name === 'NotUnixFSError' && ctx.segments.length > 0)) throw new PathNotFoundError(`no link named by ${ctx.contentPath}`)
    throw err
  }
}

/** A file to serve: its CID (the ETag), its size, and its bytes by range */
interface ServedFile {
  cid: CID
  size: number
  read(offset: number, length: number): AsyncIterable<Uint8Array>
}

async function serveFile (ctx: GatewayRequest, file: ServedFile, name?: string): Promise<void> {
  const { req, res } = ctx
  const size = file.size
  const etag = `"${file.cid}"`
  res.setHeader('ETag', etag)
  res.setHeader('Cache-Control', ctx.cacheControl)
  res.setHeader('Accept-Ranges', 'bytes')
  res.setHeader('X-Ipfs-Path', encodeURI(ctx.contentPath))
  const filename = ctx.query.get('filename')
  if (filename != null || ctx.query.get('download') === 'true') {
    const disposition = ctx.query.get('download') === 'true' ? 'attachment' : 'inline'
    const fname = filename ?? name ?? file.cid.toString()
    res.setHeader('Content-Disposition', `${disposition}; filename="${fname.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(fname)}`)
  }
  if (matches(req.headers['if-none-match'], etag)) {
    res.writeHead(304)
    res.end()
    return
  }
  const range = file.read
  const type = await contentTypeOf(name, file.cid.toString(), async () => collect(range(0, Math.min(size, SNIFF_BYTES))))
  // If-Range with another validator: the client's copy is stale, send the whole file
  const ifRange = req.headers['if-range']
  const ranges = ifRange != null && ifRange !== etag ? undefined : parseRange(req.headers.range, size)
  if (ranges === 'unsatisfiable' || ranges === 'too-many') {
    return plain(res, 416, ranges === 'too-many' ? 'too many ranges in one request' : `no range overlaps the ${size} bytes of this file`, { 'Content-Range': `bytes */${size}` })
  }
  if (ranges == null) {
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': size })
    if (ctx.head) return void res.end()
    return ctx.send(range(0, size))
  }
  if (ranges.length === 1) {
    const [{ start, end }] = ranges
    res.writeHead(206, { 'Content-Type': type, 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${size}` })
    if (ctx.head) return void res.end()
    return ctx.send(range(start, end - start + 1))
  }
  const boundary = randomBytes(12).toString('hex')
  const layout = multipartLayout(ranges, size, type, boundary)
  res.writeHead(206, { 'Content-Type': `multipart/byteranges; boundary=${boundary}`, 'Content-Length': layout.length })
  if (ctx.head) return void res.end()
  await ctx.send((async function * () {
    for (const part of layout.parts) {
      yield Buffer.from(part.head)
      yield * range(part.range.start, part.range.end - part.range.start + 1)
    }
    yield Buffer.from(layout.tail)
  })())
}

async function serveListing (ctx: GatewayRequest, dir: Extract<UnixFSEntry, { type: 'directory' }>): Promise<void> {
  const etag = `"DirIndex-${dir.cid}"`
  ctx.res.setHeader('ETag', etag)
  ctx.res.setHeader('Cache-Control', ctx.cacheControl)
  ctx.res.setHeader('X-Ipfs-Path', encodeURI(ctx.contentPath))
  if (matches(ctx.req.headers['if-none-match'], etag)) {
    ctx.res.writeHead(304)
    ctx.res.end()
    return
  }
  const rows: ListingEntry[] = []
  for await (const child of dir.entries({ signal: ctx.signal })) {
    const full = await exporter(child.cid, ctx.blocks.blockstore, { signal: ctx.signal })
    const kind = full.type === 'directory' ? 'directory' : full.type === 'file' && full.unixfs.type === 'symlink' ? 'symlink' : 'file'
    rows.push({ name: child.name, cid: child.cid.toString(), kind, size: Number(full.size) })
  }
  rows.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  const body = Buffer.from(listingPage(ctx.contentPath + '/', dir.cid.toString(), rows))
  ctx.res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': body.byteLength })
  if (ctx.head) return void ctx.res.end()
  await ctx.send([body])
}

/** Whether an If-None-Match header names the ETag (weak comparison, `*` matches) */
export function matches (header: string | undefined, etag: string): boolean {
  if (header == null) return false
  return header.split(',').some(t => {
    const tag = t.trim().replace(/^W\//, '')
    return tag === '*' || tag === etag
  })
}

async function collect (source: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of source) parts.push(c)
  return Buffer.concat(parts)
}
