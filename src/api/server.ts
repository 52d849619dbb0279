import { timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { logger } from '@libp2p/logger'
import { MAX_API_JSON_BODY } from '../constants.js'
import { InvalidArgumentError, ShoalError } from '../errors.js'
import { FRAMES_CONTENT_TYPE, decodeEntries, encodeBytes, encodeEntries } from './frames.js'
import { sampledProgress } from './sampled.js'
import type { ShoalApi } from './types.js'
import type { AddressInfo } from 'node:net'

const log = logger('shoal:api:server')

export interface ApiServerInit {
  /** What the API serves */
  api: ShoalApi
  /** Loopback host to bind */
  host: string
  /** Port to bind; 0 picks a free one */
  port: number
  /** Bearer token every request must carry */
  token: string
  /** Prometheus exposition for `GET /metrics` (no token needed); absent: 404 */
  metrics?: () => Promise<{ contentType: string, text: string }>
  /** The read-only dashboard under `/dashboard` (no token needed; docs/dashboard.md); absent: 404 */
  dashboard?: Pick<import('../dashboard/index.js').Dashboard, 'handle'>
}

export interface ApiServer {
  /** Bind and listen; resolves with the bound HOST:PORT */
  start(): Promise<string>
  stop(): Promise<void>
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: () => Promise<any>, signal: AbortSignal) => Promise<void>

/**
 * The daemon's control API: HTTP on loopback. Every request must carry the token; any request
 * with an `Origin` header (a browser page) is refused, and so is a `Host` that is not the
 * loopback address, which stops DNS-rebinding pages from reaching it.
 */
class HttpApiServer implements ApiServer {
  private readonly init: ApiServerInit
  private readonly server: http.Server
  private readonly routes: Record<string, Handler>
  private readonly sockets = new Set<import('node:net').Socket>()

  constructor (init: ApiServerInit) {
    this.init = init
    this.routes = routes(init.api)
    this.server = http.createServer((req, res) => { void this.handle(req, res) })
    // a client that waits to be told to send its body (Expect: 100-continue) is told only when
    // the request will be read: one refused (no token, another host) is answered at once
    this.server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (this.hostAllowed(req.headers.host) && this.authorized(req.headers.authorization)) res.writeContinue()
      else bodyNotAsked.add(req)
      void this.handle(req, res)
    })
    this.server.on('connection', (s) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
  }

  async start (): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.init.port, this.init.host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    const addr = this.server.address() as AddressInfo
    return addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`
  }

  async stop (): Promise<void> {
    if (!this.server.listening) return
    const closed = new Promise<void>(resolve => this.server.close(() => { resolve() }))
    for (const s of this.sockets) s.destroy()
    await closed
  }

  private async handle (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const controller = new AbortController()
    res.on('close', () => { if (!res.writableFinished) controller.abort() })
    try {
      if (req.headers.origin != null) {
        return await early(req, res, 403, { error: { name: 'ForbiddenError', message: 'the control API does not answer browser requests (Origin header present)' } })
      }
      if (!this.hostAllowed(req.headers.host)) {
        return await early(req, res, 403, { error: { name: 'ForbiddenError', message: 'the control API answers only requests addressed to its loopback address' } })
      }
      // read-only status for a page on this same origin: answered without the token
      if (this.init.dashboard != null && await this.init.dashboard.handle(req, res)) return
      if (this.init.metrics != null && (req.url === '/metrics' || req.url?.startsWith('/metrics?') === true)) {
        // read-only and holds no content: answered without the token, so Prometheus needs none
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.setHeader('Allow', 'GET, HEAD')
          return await early(req, res, 405, { error: { name: 'MethodNotAllowedError', message: '/metrics answers GET' } })
        }
        const { contentType, text } = await this.init.metrics()
        res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) })
        res.end(req.method === 'HEAD' ? undefined : text)
        return
      }
      if (!this.authorized(req.headers.authorization)) {
        return await early(req, res, 401, { error: { name: 'ApiAuthError', message: 'missing or wrong API token: use the token in the repo\'s api.token file' } })
      }
      const url = new URL(req.url ?? '/', 'http://api')
      const handler = this.routes[url.pathname]
      if (handler == null) {
        return await early(req, res, 404, { error: { name: 'NotFoundError', message: `no such API call ${url.pathname}` } })
      }
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST')
        return await early(req, res, 405, { error: { name: 'MethodNotAllowedError', message: 'API calls use POST' } })
      }
      await handler(req, res, async () => readJson(req), controller.signal)
    } catch (err: any) {
      log.trace('request failed %s', err.message)
      if (res.headersSent) {
        res.destroy()
        return
      }
      const status = err instanceof ShoalError ? err.status : (err.name === 'AbortError' ? 499 : 500)
      reply(res, status, { error: { name: err.name ?? 'Error', message: err.message ?? String(err) } })
    }
  }

  private hostAllowed (host?: string): boolean {
    if (host == null) return false
    const addr = this.server.address() as AddressInfo
    const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')
    const port = /:(\d+)$/.exec(host)?.[1]
    return (name === 'localhost' || name === addr.address || name === '127.0.0.1' || name === '::1') && Number(port) === addr.port
  }

  private authorized (header?: string): boolean {
    const m = /^Bearer (.+)$/.exec(header ?? '')
    if (m?.[1] == null) return false
    const given = Buffer.from(m[1])
    const expected = Buffer.from(this.init.token)
    return given.byteLength === expected.byteLength && timingSafeEqual(given, expected)
  }
}

/**
 * Answer before reading the request: its body is read first (up to 1 MiB, else the connection is
 * dropped), so the client is not reset while it is still sending and sees the answer
 */
async function early (req: http.IncomingMessage, res: http.ServerResponse, status: number, value: unknown): Promise<void> {
  if (bodyNotAsked.has(req)) {
    // the body was never asked for: answer, and close rather than wait for it
    res.setHeader('Connection', 'close')
  } else if (!req.readableEnded) {
    let size = 0
    try {
      for await (const chunk of req) {
        size += chunk.byteLength
        if (size > EARLY_DRAIN_LIMIT) {
          req.destroy()
          return
        }
      }
    } catch {
      return
    }
  }
  reply(res, status, value)
}

const EARLY_DRAIN_LIMIT = 1024 * 1024

/** Requests that asked to be told to send their body (Expect: 100-continue) and were not */
const bodyNotAsked = new WeakSet<http.IncomingMessage>()

function reply (res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}

async function readJson (req: http.IncomingMessage): Promise<any> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_API_JSON_BODY) throw new InvalidArgumentError(`request body is larger than ${MAX_API_JSON_BODY} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += chunk.byteLength
    if (size > MAX_API_JSON_BODY) throw new InvalidArgumentError(`request body is larger than ${MAX_API_JSON_BODY} bytes`)
    chunks.push(chunk)
  }
  if (size === 0) return {}
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    if (value == null || typeof value !== 'object' || Array.isArray(value)) throw new Error()
    return value
  } catch {
    throw new InvalidArgumentError('request body must be a JSON object')
  }
}

function str (v: unknown, name: string): string {
  if (typeof v !== 'string' || v === '') throw new InvalidArgumentError(`"${name}" must be a non-empty string`)
  return v
}

function optNum (v: unknown, name: string): number | undefined {
  if (v == null) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new InvalidArgumentError(`"${name}" must be a whole number of 0 or more`)
  return v
}

function optBool (v: unknown, name: string): boolean | undefined {
  if (v == null) return undefined
  if (typeof v !== 'boolean') throw new InvalidArgumentError(`"${name}" must be true or false`)
  return v
}

async function streamFrames (res: http.ServerResponse, frames: AsyncIterable<Uint8Array>): Promise<void> {
  res.writeHead(200, { 'Content-Type': FRAMES_CONTENT_TYPE })
  await pipeline(Readable.from(frames), res)
}

/**
 * Pull the first item before answering 200, so a bad path is a plain error response rather
 * than an ERROR frame in a 200
 */
async function peeked<T> (source: AsyncIterable<T>): Promise<AsyncIterable<T>> {
  const it = source[Symbol.asyncIterator]()
  const first = await it.next()
  return (async function * () {
    if (first.done === true) return
    yield first.value
    while (true) {
      const r = await it.next()
      if (r.done === true) return
      yield r.value
    }
  })()
}

function routes (api: ShoalApi): Record<string, Handler> {
  const json = (fn: (body: any, signal: AbortSignal) => Promise<unknown>): Handler =>
    async (_req, res, body, signal) => { reply(res, 200, await fn(await body(), signal) ?? {}) }

  return {
    '/api/v0/id': json(async (_b, signal) => api.id({ signal })),
    '/api/v0/publish': async (req, res, _body, signal) => {
      const url = new URL(req.url ?? '/', 'http://api')
      const profile = url.searchParams.get('profile') ?? undefined
      const pin = url.searchParams.get('pin') !== 'false'
      const announce = url.searchParams.get('announce') !== 'false'
      const tags = url.searchParams.getAll('tag')
      const replicas = optNum(url.searchParams.has('replicas') ? Number(url.searchParams.get('replicas')) : undefined, 'replicas')
      const result = await api.publish(decodeEntries(req), { profile, pin, announce, tags, replicas, signal })
      reply(res, 200, result)
    },
    '/api/v0/cat': async (_req, res, body, signal) => {
      const b = await body()
      const source = api.cat(str(b.path, 'path'), { offset: optNum(b.offset, 'offset'), length: optNum(b.length, 'length'), signal })
      await streamFrames(res, encodeBytes(await peeked(source)))
    },
    '/api/v0/get': async (_req, res, body, signal) => {
      const b = await body()
      const source = api.get(str(b.path, 'path'), { signal })
      await streamFrames(res, encodeEntries(await peeked(source)))
    },
    '/api/v0/fetch': async (_req, res, body, signal) => {
      const b = await body()
      const from = Array.isArray(b.from) ? b.from.map((a: unknown) => str(a, 'from')) : undefined
      // progress as one JSON event per line; the last line is the result or the error
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' })
      const line = (v: unknown): void => { if (!res.writableEnded) res.write(JSON.stringify(v) + '\n') }
      const progress = sampledProgress((e) => { line({ event: e }) })
      try {
        const result = await api.fetch(str(b.cid, 'cid'), { from, name: typeof b.name === 'string' ? b.name : undefined, signal, onProgress: (e) => { progress.push(e) } })
        progress.close()
        line({ result })
      } catch (err: any) {
        progress.close()
        line({ error: { name: err.name, message: err.message, status: err instanceof ShoalError ? err.status : 500 } })
      }
      res.end()
    },
    '/api/v0/ls': json(async (b, signal) => ({ entries: await api.ls(str(b.path, 'path'), { signal }) })),
    '/api/v0/pin/add': json(async (b, signal) => api.pinAdd(str(b.cid, 'cid'), { name: typeof b.name === 'string' ? b.name : undefined, signal })),
    '/api/v0/pin/rm': json(async (b, signal) => { await api.pinRm(str(b.cid, 'cid'), { signal }) }),
    '/api/v0/pin/ls': json(async (_b, signal) => ({ pins: await api.pinLs({ signal }) })),
    '/api/v0/gc': json(async (_b, signal) => api.gc({ signal })),
    '/api/v0/verify': json(async (b, signal) => api.verify({ drop: b.drop === true, signal })),
    '/api/v0/peers': json(async (_b, signal) => ({ peers: await api.peers({ signal }) })),
    '/api/v0/connect': json(async (b, signal) => api.connect(str(b.multiaddr, 'multiaddr'), { signal })),
    '/api/v0/stats': json(async (_b, signal) => api.stats({ signal })),
    '/api/v0/find': json(async (b, signal) => ({ providers: await api.find(str(b.cid, 'cid'), { limit: optNum(b.limit, 'limit'), timeoutMs: optNum(b.timeoutMs, 'timeoutMs'), signal }) })),
    '/api/v0/provide': json(async (b, signal) => api.provide(str(b.cid, 'cid'), { signal })),
    '/api/v0/members': json(async (_b, signal) => ({ members: await api.members({ signal }) })),
    '/api/v0/status': json(async (b, signal) => api.status(str(b.cid, 'cid'), { timeoutMs: optNum(b.timeoutMs, 'timeoutMs'), signal })),
    '/api/v0/watch': async (_req, res, _body, signal) => {
      // one announcement per line, until the client goes away
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' })
      res.flushHeaders()
      for await (const a of api.watch({ signal })) {
        if (!res.write(JSON.stringify(a) + '\n')) await new Promise(resolve => res.once('drain', resolve))
      }
      res.end()
    },
    '/api/v0/car/export': async (_req, res, body, signal) => {
      const b = await body()
      const scope = b.scope == null ? undefined : str(b.scope, 'scope')
      if (scope != null && scope !== 'all' && scope !== 'entity' && scope !== 'block') throw new InvalidArgumentError('"scope" must be all, entity or block')
      const source = api.exportCar(str(b.path, 'path'), { scope, signal })
      await streamFrames(res, encodeBytes(await peeked(source)))
    },
    '/api/v0/car/import': async (req, res, _body, signal) => {
      const url = new URL(req.url ?? '/', 'http://api')
      // one reader of the body, without return(): a refused CAR is drained through it below (a
      // second reader would see nothing while the first still holds the stream)
      const body = req[Symbol.asyncIterator]()
      const car: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => ({ next: async () => await body.next() }) }
      try {
        reply(res, 200, await api.importCar(car, { pin: url.searchParams.get('pin') !== 'false', signal }))
      } finally {
        // read what is left of a refused CAR, so the client sees the error and not a reset
        if (!req.readableEnded) {
          try {
            while ((await body.next()).done !== true);
          } catch {}
        }
      }
    },
    '/api/v0/perf': json(async (b, signal) => api.perf(str(b.multiaddr, 'multiaddr'), { bytes: optNum(b.bytes, 'bytes'), hash: optBool(b.hash, 'hash'), signal }))
  }
}

export function createApiServer (init: ApiServerInit): ApiServer {
  return new HttpApiServer(init)
}
