import { randomBytes } from 'node:crypto'
import { exporter } from 'ipfs-unixfs-exporter'
import { IMMUTABLE_CACHE_CONTROL, SNIFF_BYTES } from '../constants.js'
import { PathNotFoundError } from '../errors.js'
import { contentTypeOf } from './content-type.js'
import { listingPage } from './listing.js'
import { multipartLayout, parseRange } from './range.js'
import { readRange } from './ranged.js'
import { plain } from './server.js'
import type { ListingEntry } from './listing.js'
import type { GatewayRequest } from './server.js'
import type { UnixFSEntry } from 'ipfs-unixfs-exporter'

/** A file, a directory's index.html, or a directory listing */
export async function serveUnixfs (ctx: GatewayRequest): Promise<void> {
  const entry = await resolve(ctx, [ctx.cid.toString(), ...ctx.segments].join('/'))
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
    if (index != null && (index.type === 'file' || index.type === 'raw')) return serveFile(ctx, index, 'index.html')
    return serveListing(ctx, entry)
  }
  if (entry.type === 'file' && entry.unixfs.type === 'symlink') {
    return plain(ctx.res, 501, 'a symlink: the gateway does not follow symlinks')
  }
  if (entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity') {
    const name = ctx.query.get('filename') ?? (ctx.segments.length > 0 ? ctx.segments[ctx.segments.length - 1] : undefined)
    return serveFile(ctx, entry, name)
  }
  return plain(ctx.res, 501, `${entry.cid} is not UnixFS: ask for it with ?format=raw or ?format=car`)
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

type FileEntry = Extract<UnixFSEntry, { type: 'file' | 'raw' | 'identity' }>

async function serveFile (ctx: GatewayRequest, entry: FileEntry, name?: string): Promise<void> {
  const { req, res } = ctx
  const size = Number(entry.size)
  const etag = `"${entry.cid}"`
  res.setHeader('ETag', etag)
  res.setHeader('Cache-Control', IMMUTABLE_CACHE_CONTROL)
  res.setHeader('Accept-Ranges', 'bytes')
  res.setHeader('X-Ipfs-Path', encodeURI(ctx.contentPath))
  const filename = ctx.query.get('filename')
  if (filename != null || ctx.query.get('download') === 'true') {
    const disposition = ctx.query.get('download') === 'true' ? 'attachment' : 'inline'
    const fname = filename ?? name ?? entry.cid.toString()
    res.setHeader('Content-Disposition', `${disposition}; filename="${fname.replace(/[^\x20-\x7e]|["\\]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(fname)}`)
  }
  if (matches(req.headers['if-none-match'], etag)) {
    res.writeHead(304)
    res.end()
    return
  }
  const range = (offset: number, length: number): AsyncIterable<Uint8Array> => entry.type === 'identity'
    ? entry.content({ offset, length, signal: ctx.signal })
    : readRange(ctx.blocks, entry.cid, offset, length, ctx.signal)
  const type = await contentTypeOf(name, entry.cid.toString(), async () => collect(range(0, Math.min(size, SNIFF_BYTES))))
  // If-Range with another validator: the client's copy is stale, send the whole file
  const ifRange = req.headers['if-range']
  const ranges = ifRange != null && ifRange !== etag ? undefined : parseRange(req.headers.range, size)
  if (ranges === 'unsatisfiable' || ranges === 'too-many') {
    return plain(res, 416, ranges === 'too-many' ? 'too many ranges in one request' : `no range overlaps the ${size} bytes of this file`, { 'Content-Range': `bytes */${size}` })
  }
  if (ranges == null) {
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': size })
    if (ctx.head) return void res.end()
    return ctx.send(entry.content({ signal: ctx.signal }))
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
  ctx.res.setHeader('Cache-Control', IMMUTABLE_CACHE_CONTROL)
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
