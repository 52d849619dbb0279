import { logger as defaultLogger } from '@libp2p/logger'
import { loadPage } from './page.js'
import type { DashboardComponents, Dashboard, DashboardSnapshot, ResolvedDashboardInit } from './index.js'
import type { FollowedName, IdResult, PinInfo, StatsResult } from '../interface/types.js'
import type http from 'node:http'

/** Headers of every dashboard answer: never cached, never framed, never sniffed */
const HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin'
}

/** What is slow to read, read at most every `slowIntervalMs` */
interface Slow {
  at: number
  id: IdResult
  stats: StatsResult
  pins: PinInfo[]
  names: FollowedName[]
}

/**
 * The dashboard's routes: the page, one snapshot as JSON, and the event stream. One timer
 * builds one snapshot a tick for every open stream, and runs only while a stream is open.
 */
export class DashboardServer implements Dashboard {
  private readonly components: DashboardComponents
  private readonly init: ResolvedDashboardInit
  private readonly clients = new Set<http.ServerResponse>()
  private readonly log
  private timer?: ReturnType<typeof setInterval>
  private pushing = false
  private slow?: Promise<Slow>

  constructor (components: DashboardComponents, init: ResolvedDashboardInit) {
    this.components = components
    this.init = init
    this.log = components.logger?.forComponent('shoal:dashboard') ?? defaultLogger('shoal:dashboard')
  }

  async handle (req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> {
    const path = new URL(req.url ?? '/', 'http://dashboard').pathname
    if (path !== '/dashboard' && !path.startsWith('/dashboard/')) return false
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      text(res, 405, 'the dashboard is read-only: it answers GET and HEAD', { Allow: 'GET, HEAD' })
      return true
    }
    const head = req.method === 'HEAD'
    switch (path) {
      case '/dashboard':
      case '/dashboard/': {
        const page = await loadPage()
        res.writeHead(200, { ...HEADERS, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': page.html.byteLength, 'Content-Security-Policy': page.csp })
        res.end(head ? undefined : page.html)
        return true
      }
      case '/dashboard/snapshot': {
        const body = JSON.stringify(await this.snapshot())
        res.writeHead(200, { ...HEADERS, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
        res.end(head ? undefined : body)
        return true
      }
      case '/dashboard/events':
        if (head) {
          res.writeHead(200, { ...HEADERS, 'Content-Type': 'text/event-stream' })
          res.end()
        } else {
          await this.stream(res)
        }
        return true
      default:
        text(res, 404, 'not found: the dashboard is /dashboard')
        return true
    }
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
    for (const res of this.clients) res.destroy()
    this.clients.clear()
  }

  async snapshot (): Promise<DashboardSnapshot> {
    const { api, activity } = this.components
    const slow = await this.readSlow()
    const members = await api.members().catch(() => [])
    const act = activity?.snapshot() ?? { transfers: [], running: 0, bandwidth: { intervalMs: this.init.tickMs, samples: [] } }
    const self = members.find(m => m.self === true)
    const { stats, id, pins, names } = slow
    return {
      v: 1,
      at: Date.now(),
      self: {
        peerId: id.peerId,
        agentVersion: id.agentVersion,
        online: id.online,
        reachability: id.reachability,
        addresses: id.addresses,
        ...(id.gateway != null ? { gateway: id.gateway } : {}),
        uptime: stats.uptime + Math.round((Date.now() - slow.at) / 1000)
      },
      ...(stats.network != null ? { network: { connections: stats.network.connections, peers: stats.network.peers } } : {}),
      store: stats.store,
      uploads: { active: self?.uploads ?? stats.exchange?.activeUploads ?? 0, slots: self?.uploadSlots, bytesSent: stats.exchange?.server.bytesSent ?? 0 },
      members: members.map(m => ({
        peerId: m.peerId,
        state: m.state,
        uploads: m.uploads,
        uploadSlots: m.uploadSlots,
        free: m.free,
        pins: m.pins,
        lastSeen: m.lastSeen,
        version: m.version,
        self: m.self === true
      })).sort((a, b) => Number(b.self) - Number(a.self) || a.peerId.localeCompare(b.peerId)),
      transfers: act.transfers,
      running: act.running,
      bandwidth: act.bandwidth,
      pins: {
        total: pins.length,
        items: [...pins].sort((a, b) => b.pinnedAt - a.pinnedAt).slice(0, this.init.maxPins)
          .map(p => ({ cid: p.cid, name: p.name, size: p.size, pinnedAt: p.pinnedAt }))
      },
      names: names.map(f => ({
        name: f.name,
        ...(f.current != null ? { sequence: f.current.sequence, cid: f.current.cid, at: f.current.at } : {}),
        ...(f.failed != null ? { failed: f.failed } : {})
      }))
    }
  }

  private async readSlow (): Promise<Slow> {
    const current = this.slow
    if (current != null) {
      const s = await current.catch(() => undefined)
      if (s != null && Date.now() - s.at < this.init.slowIntervalMs) return s
      if (this.slow !== current) return this.readSlow()
    }
    const { api } = this.components
    const next = (async () => {
      const [id, stats, pins, names] = await Promise.all([api.id(), api.stats(), api.pinLs(), api.following?.().catch(() => []) ?? []])
      return { at: Date.now(), id, stats, pins, names }
    })()
    this.slow = next
    return next
  }

  private async stream (res: http.ServerResponse): Promise<void> {
    if (this.clients.size >= this.init.maxClients) {
      text(res, 503, `the dashboard serves ${this.init.maxClients} pages at once: close one and reload`, { 'Retry-After': '5' })
      return
    }
    res.writeHead(200, { ...HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' })
    // the browser reconnects by itself after this many ms when the stream drops
    res.write('retry: 3000\n\n')
    this.clients.add(res)
    res.on('close', () => {
      this.clients.delete(res)
      if (this.clients.size === 0) {
        clearInterval(this.timer)
        this.timer = undefined
      }
    })
    if (this.timer == null) {
      this.timer = setInterval(() => { void this.push() }, this.init.tickMs)
      this.timer.unref()
    }
    await this.push([res])
  }

  /** Send one snapshot to the given streams (all by default); a stream still draining skips it */
  private async push (to?: http.ServerResponse[]): Promise<void> {
    if (to == null && this.pushing) return
    if (to == null) this.pushing = true
    try {
      const frame = `event: snapshot\ndata: ${JSON.stringify(await this.snapshot())}\n\n`
      for (const res of to ?? this.clients) {
        if (res.destroyed || res.writableNeedDrain) continue
        res.write(frame)
      }
    } catch (err: any) {
      this.log('snapshot failed: %s', err?.message)
    } finally {
      if (to == null) this.pushing = false
    }
  }
}

function text (res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = message + '\n'
  res.writeHead(status, { ...HEADERS, ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}
