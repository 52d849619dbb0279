import { DASHBOARD_HISTORY, DASHBOARD_MAX_TRANSFERS, DASHBOARD_RECENT_TRANSFER, DASHBOARD_TICK } from '../constants.js'
import type { Activity, ActivityInit, ActivitySnapshot, ActivitySources, BandwidthSample, Transfer } from './index.js'
import type { FetchProgressEvent, FetchWatch } from '../exchange/index.js'
import type { CID } from 'multiformats/cid'

interface Tracked extends Transfer {
  /** `fetchedBytes` already counted into the bandwidth */
  counted: number
}

/**
 * Watches fetches through their progress events (it is one of the exchange's fetch observers)
 * and samples bytes in and out once a tick for the bandwidth chart.
 */
export class ActivityTracker implements Activity {
  private readonly init: Required<ActivityInit>
  private readonly transfers = new Map<number, Tracked>()
  private readonly samples: BandwidthSample[] = []
  private nextId = 1
  private bytesIn = 0
  private lastIn = 0
  private lastOut?: number
  private sources: ActivitySources = {}
  private timer?: ReturnType<typeof setInterval>

  constructor (init: ActivityInit) {
    this.init = {
      tickMs: init.tickMs ?? DASHBOARD_TICK,
      history: init.history ?? DASHBOARD_HISTORY,
      recentMs: init.recentMs ?? DASHBOARD_RECENT_TRANSFER,
      maxTransfers: init.maxTransfers ?? DASHBOARD_MAX_TRANSFERS
    }
  }

  start (sources: ActivitySources = {}): void {
    this.sources = sources
    if (this.timer != null) return
    this.lastOut = sources.bytesSent?.()
    this.timer = setInterval(() => { this.sample() }, this.init.tickMs)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  fetchStarted (root: CID): FetchWatch {
    const t = this.begin(root.toString())
    return {
      progress: (e) => { this.progress(t, e) },
      ended: (outcome) => { this.end(t, outcome) }
    }
  }

  snapshot (): ActivitySnapshot {
    const now = Date.now()
    for (const [id, t] of this.transfers) {
      if (t.endedAt != null && now - t.endedAt > this.init.recentMs) this.transfers.delete(id)
    }
    const all = [...this.transfers.values()]
    const running = all.filter(t => t.state === 'running').sort((a, b) => a.startedAt - b.startedAt)
    const ended = all.filter(t => t.state !== 'running').sort((a, b) => (b.endedAt ?? 0) - (a.endedAt ?? 0))
    const transfers = [...running, ...ended].slice(0, this.init.maxTransfers).map(({ counted, ...t }) => ({ ...t }))
    return { transfers, running: running.length, bandwidth: { intervalMs: this.init.tickMs, samples: [...this.samples] } }
  }

  /** One bandwidth sample: bytes in and out since the last tick, per second */
  sample (): void {
    const perSecond = 1000 / this.init.tickMs
    const out = this.sources.bytesSent?.()
    const sample: BandwidthSample = {
      at: Date.now(),
      in: Math.round((this.bytesIn - this.lastIn) * perSecond),
      out: out != null && this.lastOut != null ? Math.max(0, Math.round((out - this.lastOut) * perSecond)) : 0
    }
    this.lastIn = this.bytesIn
    this.lastOut = out
    this.samples.push(sample)
    if (this.samples.length > this.init.history) this.samples.splice(0, this.samples.length - this.init.history)
  }

  private begin (cid: string): Tracked {
    const t: Tracked = { id: this.nextId++, cid, state: 'running', startedAt: Date.now(), blocks: 0, bytes: 0, fetchedBytes: 0, peers: 0, rate: 0, counted: 0 }
    this.transfers.set(t.id, t)
    return t
  }

  private progress (t: Tracked, e: FetchProgressEvent): void {
    if (e.type === 'fetch:peer') {
      t.peers = e.peers
    } else if (e.type === 'fetch:block' || e.type === 'fetch:done') {
      t.blocks = e.blocks
      t.bytes = e.bytes
      t.fetchedBytes = e.fetchedBytes
      if (e.type === 'fetch:block') {
        t.totalBytes = e.totalBytes
        t.peers = e.peers
        t.rate = e.rate
        t.eta = e.eta
      } else {
        t.totalBytes = e.bytes
      }
      this.bytesIn += Math.max(0, e.fetchedBytes - t.counted)
      t.counted = Math.max(t.counted, e.fetchedBytes)
    }
  }

  private end (t: Tracked, state: Transfer['state']): void {
    if (t.state !== 'running') return
    t.state = state
    t.endedAt = Date.now()
    t.eta = undefined
    const seconds = Math.max((t.endedAt - t.startedAt) / 1000, 0.001)
    t.rate = t.fetchedBytes / seconds
    // a session that moved nothing (all local, or a gateway read that stopped early) is noise
    if (t.fetchedBytes === 0 && state !== 'failed') this.transfers.delete(t.id)
  }
}
