import { timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import { logger } from '@libp2p/logger'
import { HttpListener } from '../http-listener.js'
import { httpStatusOf } from '../http-status.js'
import { reply, routes } from './routes.js'
import type { Route } from './routes.js'
import type { ShoalApi } from '../interface/types.js'
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

/**
 * The daemon's control API: HTTP on loopback. Every request must carry the token; any request
 * with an `Origin` header (a browser page) is refused, and so is a `Host` that is not the
 * loopback address, which stops DNS-rebinding pages from reaching it.
 */
class HttpApiServer implements ApiServer {
  private readonly init: ApiServerInit
  private readonly server: http.Server
  private readonly routes: Map<string, Route>
  private readonly listener: HttpListener

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
    this.listener = new HttpListener(this.server)
  }

  async start (): Promise<string> {
    return this.listener.listen(this.init.port, this.init.host)
  }

  async stop (): Promise<void> {
    await this.listener.close()
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
      const route = this.routes.get(url.pathname)
      if (route == null) {
        return await early(req, res, 404, { error: { name: 'NotFoundError', message: `no such API call ${url.pathname}` } })
      }
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST')
        return await early(req, res, 405, { error: { name: 'MethodNotAllowedError', message: 'API calls use POST' } })
      }
      await route(req, res, controller.signal)
    } catch (err: any) {
      log.trace('request failed %s', err.message)
      if (res.headersSent) {
        res.destroy()
        return
      }
      const status = err.name === 'AbortError' ? 499 : httpStatusOf(err)
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

export function createApiServer (init: ApiServerInit): ApiServer {
  return new HttpApiServer(init)
}
