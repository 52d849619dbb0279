import http from 'node:http'
import { logger as defaultLogger } from '@libp2p/logger'
import { parseContentPath } from '../content/index.js'
import { GATEWAY_BLOCK_CACHE_BYTES, GATEWAY_LAYOUT_CACHE_BYTES, IMMUTABLE_CACHE_CONTROL } from '../constants.js'
import { InvalidNameError, PathNotFoundError } from '../errors.js'
import { HttpListener } from '../http-listener.js'
import { httpStatusOf } from '../http-status.js'
import { CAR_TYPE, RAW_TYPE, plain } from './response.js'
import { BlockCache, PullThrough } from '../content/pull-through.js'
import { ReadBuffers } from './buffers.js'
import { FileLayouts } from './layout.js'
import { serveCar, serveRaw } from './trustless.js'
import { serveUnixfs } from './unixfs.js'
import type { Gateway, GatewayComponents, GatewayNames, ResolvedGatewayInit } from './index.js'
import type { CID } from 'multiformats/cid'

/** One request, parsed, with what the handlers need */
export interface GatewayRequest {
  req: http.IncomingMessage
  res: http.ServerResponse
  /** HEAD: headers only */
  head: boolean
  cid: CID
  /** Decoded path segments after the CID */
  segments: string[]
  /** The request path as sent, without the query (for redirects) */
  rawPath: string
  /** `/ipfs/<cid>/<segments>`, decoded */
  contentPath: string
  /** Cache-Control of the answer: immutable for /ipfs/, the record's TTL for /ipns/ */
  cacheControl: string
  query: URLSearchParams
  blocks: PullThrough
  /** Layouts of files, shared between requests */
  layouts: FileLayouts
  signal: AbortSignal
  /** Write a body from a source, with backpressure; counts bytes served */
  send(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void>
}

/** Headers every /ipfs/ answer carries */
const COMMON_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, HEAD',
  'X-Content-Type-Options': 'nosniff',
  Vary: 'Accept'
}

export class HttpGateway implements Gateway {
  private readonly components: GatewayComponents
  private readonly init: ResolvedGatewayInit
  private readonly server: http.Server
  private readonly listener: HttpListener
  private readonly log
  private active = 0
  private readonly cache = new BlockCache(GATEWAY_BLOCK_CACHE_BYTES)
  private readonly layouts = new FileLayouts(GATEWAY_LAYOUT_CACHE_BYTES)
  private readonly buffers = new ReadBuffers()
  address?: string

  constructor (components: GatewayComponents, init: ResolvedGatewayInit) {
    this.components = components
    this.init = init
    this.log = components.logger?.forComponent('shoal:gateway') ?? defaultLogger('shoal:gateway')
    this.server = http.createServer({ maxHeaderSize: init.maxHeaderSize }, (req, res) => { void this.handle(req, res) })
    this.listener = new HttpListener(this.server)
  }

  async start (): Promise<string> {
    this.address ??= await this.listener.listen(this.init.port, this.init.host)
    return this.address
  }

  async stop (): Promise<void> {
    await this.listener.close()
    this.address = undefined
  }

  private async handle (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint()
    const observer = this.components.observer
    res.on('close', () => {
      // a response cut off before it finished counts as the status it started with
      observer?.request?.(res.statusCode, Number(process.hrtime.bigint() - started) / 1e9)
    })
    if (this.active >= this.init.maxConcurrentRequests) {
      plain(res, 429, `the gateway is serving ${this.active} requests, its limit: try again shortly`, { 'Retry-After': '1' })
      return
    }
    this.active++
    const controller = new AbortController()
    res.on('close', () => {
      this.active--
      if (!res.writableFinished) controller.abort(new Error('the client went away'))
    })
    let blocks: PullThrough | undefined
    try {
      const url = req.url ?? '/'
      if (url.length > this.init.maxUrlLength) return plain(res, 414, `request target longer than ${this.init.maxUrlLength} bytes`)
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return plain(res, 405, 'the gateway answers GET and HEAD only', { Allow: 'GET, HEAD' })
      }
      const q = url.indexOf('?')
      const rawPath = q >= 0 ? url.slice(0, q) : url
      const query = new URLSearchParams(q >= 0 ? url.slice(q + 1) : '')
      let target = rawPath.startsWith('/ipfs/') ? rawPath.slice('/ipfs/'.length) : undefined
      let cacheControl = IMMUTABLE_CACHE_CONTROL
      if (rawPath.startsWith('/ipns/') && this.components.names != null) {
        const named = await resolveName(this.components.names, rawPath, query, req.headers.accept, controller.signal)
        if (named.record != null) {
          for (const [k, v] of Object.entries(COMMON_HEADERS)) res.setHeader(k, v)
          res.writeHead(200, { 'Content-Type': IPNS_RECORD_TYPE, 'Content-Length': named.record.byteLength, 'Cache-Control': named.cacheControl })
          res.end(req.method === 'HEAD' ? undefined : named.record)
          return
        }
        target = named.target
        cacheControl = named.cacheControl
      }
      if (target == null) return plain(res, 404, 'not found: the gateway serves /ipfs/<cid>[/<path>] and /ipns/<name>[/<path>]')
      const segments = decodeSegments(target)
      if (segments == null) return plain(res, 400, 'bad path: a segment is not valid percent-encoding, or holds "/" or NUL')
      const p = parseContentPath(segments.join('/'))
      const format = formatOf(query, req.headers.accept)
      if (format === 'unsupported') return plain(res, 400, 'unsupported format: this gateway answers raw, car, or UnixFS content')
      const ranged = format == null && req.headers.range != null
      blocks = new PullThrough(this.components, {
        root: p.cid,
        mode: ranged ? 'block' : 'dag',
        timeoutMs: this.init.retrievalTimeoutMs,
        signal: controller.signal,
        cache: this.cache,
        buffers: this.buffers,
        onBlock: (hit) => observer?.block?.(hit)
      })
      const ctx: GatewayRequest = {
        req,
        res,
        head: req.method === 'HEAD',
        cid: p.cid,
        segments: p.segments,
        rawPath,
        contentPath: ['/ipfs', p.cid.toString(), ...p.segments].join('/'),
        cacheControl,
        query,
        blocks,
        layouts: this.layouts,
        signal: controller.signal,
        send: async (source) => { await send(res, source, controller.signal, (n) => observer?.bytesServed?.(n), this.buffers) }
      }
      for (const [k, v] of Object.entries(COMMON_HEADERS)) res.setHeader(k, v)
      if (format === 'raw') await serveRaw(ctx)
      else if (format === 'car') await serveCar(ctx)
      else await serveUnixfs(ctx)
    } catch (err: any) {
      if (controller.signal.aborted && err?.name !== 'GatewayTimeoutError') return
      this.log('%s %s failed: %s', req.method, req.url, err?.message)
      if (res.headersSent) {
        // the status is gone: cutting the body short is the only way left to say it failed
        res.destroy()
        return
      }
      const status = statusOf(err)
      plain(res, status, status === 500 ? 'internal error' : String(err?.message ?? err).split('\n')[0])
    } finally {
      blocks?.close()
    }
  }
}

export const IPNS_RECORD_TYPE = 'application/vnd.ipfs.ipns-record'

/**
 * An `/ipns/<name>[/<path>]` request: the signed record itself (`?format=ipns-record` or its
 * Accept type), or the `/ipfs/` path it stands for now, cached for the record's TTL
 */
async function resolveName (names: GatewayNames, rawPath: string, query: URLSearchParams, accept: string | undefined, signal: AbortSignal): Promise<{ record?: Uint8Array, target?: string, cacheControl: string }> {
  const rest = rawPath.slice('/ipns/'.length)
  const slash = rest.indexOf('/')
  let name: string
  try {
    name = decodeURIComponent(slash >= 0 ? rest.slice(0, slash) : rest)
  } catch {
    throw new InvalidNameError('bad name: not valid percent-encoding')
  }
  const current = await names.current(name, { signal })
  const cacheControl = `public, max-age=${Math.floor(current.ttlMs / 1000)}`
  const wantsRecord = query.get('format') === 'ipns-record' || (accept ?? '').split(',').some(a => a.split(';')[0]?.trim().toLowerCase() === IPNS_RECORD_TYPE)
  if (wantsRecord) {
    query.delete('format')
    return { record: current.record, cacheControl }
  }
  if (!current.value.startsWith('/ipfs/')) throw new PathNotFoundError(`${name} points to ${current.value.slice(0, 200)}, which this gateway does not follow: only /ipfs/ values are served`)
  // the value's own path, then the request's
  return { target: current.value.slice('/ipfs/'.length) + (slash >= 0 ? rest.slice(slash) : ''), cacheControl }
}

/** HTTP status for an error thrown while serving */
function statusOf (err: any): number {
  switch (err?.name) {
    case 'NotFoundError': return 404 // ipfs-unixfs-exporter: no such link
    case 'NoResolverError': return 501 // a codec the exporter cannot read
    case 'NotUnixFSError':
    case 'InvalidParametersError': return 400
    default: return httpStatusOf(err)
  }
}

/** `raw`, `car`, `unsupported`, or undefined for UnixFS: `?format=` first, then `Accept` */
function formatOf (query: URLSearchParams, accept?: string): 'raw' | 'car' | 'unsupported' | undefined {
  const f = query.get('format')
  if (f != null && f !== '') {
    if (f === 'raw') return 'raw'
    if (f === 'car') return 'car'
    return 'unsupported'
  }
  for (const part of (accept ?? '').split(',')) {
    const type = part.split(';')[0]?.trim().toLowerCase()
    if (type === RAW_TYPE) return 'raw'
    if (type === CAR_TYPE) return 'car'
  }
  return undefined
}

function decodeSegments (path: string): string[] | undefined {
  const out: string[] = []
  const parts = path.split('/')
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]
    // a trailing slash means "the directory": keep it out of the segments
    if (part === '' && i === parts.length - 1 && i > 0) break
    let s: string
    try {
      s = decodeURIComponent(part)
    } catch {
      return undefined
    }
    if (s.includes('/') || s.includes('\0')) return undefined
    out.push(s)
  }
  return out
}

/** Write a body with backpressure; a chunk read into a pooled buffer goes back once the socket took it */
async function send (res: http.ServerResponse, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, signal: AbortSignal, counted: (n: number) => void, buffers: ReadBuffers): Promise<void> {
  for await (const chunk of source) {
    signal.throwIfAborted()
    counted(chunk.byteLength)
    // after a failed write the socket may still hold the bytes: that buffer is left to the collector
    if (!res.write(chunk, (err) => { if (err == null) buffers.give(chunk) })) {
      await new Promise<void>((resolve) => {
        const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
        res.on('drain', done)
        res.on('close', done)
      })
    }
  }
  signal.throwIfAborted()
  res.end()
}
