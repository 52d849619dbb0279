import fs from 'node:fs/promises'
import { QUOTA_BUSY_RETRY, QUOTA_CHECK_INTERVAL, second } from '../constants.js'
import type { Store } from '../store/index.js'
import type { Logger } from '@libp2p/interface'

const ROOM_CACHE_MS = 30 * second

export interface QuotaComponents {
  store: Pick<Store, 'evict' | 'pins'>
  /** The repo directory: without a quota, the room is what its file system has free */
  root: string
  log: Logger
}

export interface QuotaInit {
  /** Bytes the store may hold (`store.quota`); 0 for no limit */
  quota: number
}

/**
 * The store's room: how much more it can take (`room`), and, with a quota, keeping it within
 * the quota by evicting unpinned cached content, least recently used first, once a
 * QUOTA_CHECK_INTERVAL between `start` and `stop` and whenever asked to (`enforceSoon`, after
 * fetches).
 */
export class Quota {
  private readonly components: QuotaComponents
  private readonly quota: number
  private roomCache?: { at: number, free: number, pins: number }
  private evicting?: Promise<void>
  private evictAgain = false
  private timer?: ReturnType<typeof setInterval>
  /** Asks again after an eviction that writes kept off */
  private retry?: ReturnType<typeof setTimeout>

  constructor (components: QuotaComponents, init: QuotaInit) {
    this.components = components
    this.quota = init.quota
  }

  start (): void {
    if (this.quota <= 0) return
    this.enforceSoon()
    this.timer = setInterval(() => { this.enforceSoon() }, QUOTA_CHECK_INTERVAL)
  }

  /** Stops the checks; `evictions()` waits for one still running */
  stop (): void {
    clearInterval(this.timer)
    clearTimeout(this.retry)
  }

  /** Bytes the store can still take and the pins it holds, for presence beats; cached for a while */
  async room (): Promise<{ free: number, pins: number }> {
    const now = Date.now()
    if (this.roomCache == null || now - this.roomCache.at > ROOM_CACHE_MS) {
      // the pins alone: `store.stat()` also walks every block file, and, asked for by the beats
      // once the cache is stale, that walk was what an idle daemon allocated most (~100 MB of heap
      // grown between two serves of a 256 MiB file, docs/performance.md)
      const { pins, unreadable } = await this.components.store.pins.scan()
      const stat = { pins: pins.length + unreadable.length, pinnedSize: pins.reduce((n, p) => n + p.size, 0) }
      let free: number
      if (this.quota > 0) {
        // unpinned cache is evicted to make room: only pinned content takes the quota's room
        free = Math.max(0, this.quota - stat.pinnedSize)
      } else {
        const fsStat = await fs.statfs(this.components.root)
        free = fsStat.bavail * fsStat.bsize
      }
      this.roomCache = { at: now, free, pins: stat.pins }
    }
    return { free: this.roomCache.free, pins: this.roomCache.pins }
  }

  /**
   * Keep the store within `store.quota` by evicting unpinned cached content, least recently
   * used first; one eviction runs at a time, and a request during one runs once after it
   */
  enforceSoon (): void {
    const quota = this.quota
    if (quota <= 0) return
    if (this.evicting != null) {
      this.evictAgain = true
      return
    }
    const log = this.components.log
    // not while fetches and publishes write: an eviction waiting for them would hold back every
    // write that comes after it; the fetch that ends asks again
    this.evicting = this.components.store.evict(quota, { unlessBusy: true }).then((r) => {
      if (r.busy === true) {
        this.retry ??= setTimeout(() => { this.retry = undefined; this.enforceSoon() }, QUOTA_BUSY_RETRY)
        this.retry.unref?.()
        return
      }
      this.roomCache = undefined
      if (r.removed > 0) log('evicted %d blocks (%d bytes) to stay within the quota', r.removed, r.freed)
      if (r.pinnedBytes > quota) log('pinned content (%d bytes) alone exceeds the store quota (%d bytes)', r.pinnedBytes, quota)
      for (const u of r.unreadablePins) {
        log.error('pin record %s cannot be read (%s): eviction kept the DAG of %s; fix or remove the record', u.file, u.reason, u.cid)
      }
    }, (err) => { log.error('eviction failed: %s', err.message) }).finally(() => {
      this.evicting = undefined
      if (this.evictAgain) {
        this.evictAgain = false
        this.enforceSoon()
      }
    })
  }

  /** Resolves when no eviction is running (tests, shutdown) */
  async evictions (): Promise<void> {
    while (this.evicting != null) await this.evicting
  }
}
