import { HELD_DEADLINE, HELD_RATE, HOLDER_REPLACEMENTS, MAX_HOLDER_CIDS, MAX_HOLDERS_PER_CID, REPLICATE_TIMEOUT, VOLUNTEER_GRACE, VOLUNTEER_WINDOW } from '../constants.js'
import { Replicate } from './messages.js'
import type { Announcement } from './index.js'
import type { Logger } from '@libp2p/interface'

const HOLD_ATTEMPTS = 3
const HOLD_RETRY_DELAY = 2000

/** What a peer replicates (the config's `replicate` section) */
export interface ReplicatePolicy {
  enabled: boolean
  /** Only content announced with one of these tags; empty for any */
  tags: string[]
  /** Largest content, bytes; 0 for no limit */
  maxFileSize: number
  /** Bytes of replicas kept in all; 0 for no limit */
  maxTotalBytes: number
}

export interface ReplicatorInit {
  self: string
  policy: ReplicatePolicy
  log: Logger
  /** Publish on the replicate topic */
  send(message: Replicate): Promise<void>
  /** Bytes this peer can still store */
  free(): Promise<number>
  /** Bytes of replicas this peer holds (read only when the policy has a `maxTotalBytes`) */
  replicated(): Promise<number>
  /**
   * Fetch, pin and provide announced content; `whole()` is called once every block is stored,
   * while the pin is still being written (gc stays off the blocks until it is)
   */
  hold(announcement: Announcement, whole?: () => void): Promise<void>
  onHeld?(cid: string, holder: string): void
  /** The clock, ms since the epoch (the simulator passes its virtual one). @default Date.now */
  now?(): number
  /** Call `fn` after `ms`; returns what cancels it. @default setTimeout */
  after?(ms: number, fn: () => void): () => void
}

interface Request {
  replicas: number
  volunteers: Map<string, number>
  /** When the volunteers were as many as asked for */
  fullAt?: number
  /** Stop waiting for volunteers (enough came, or the request ends) */
  enough(): void
  /** Every peer assigned so far, replacements too (none is assigned twice) */
  assigned: Set<string>
  /** Assigned holders not heard yet → what cancels their deadline */
  awaited: Map<string, () => void>
  /** Replacements left */
  replacements: number
}

/**
 * How long a publisher waits for HELD from a holder it assigned content of `size` bytes before it
 * assigns a volunteer in its place
 */
export function heldDeadline (size: number): number {
  return HELD_DEADLINE + Math.ceil(size / HELD_RATE)
}

/**
 * When a publisher that asked at `start` assigns the volunteers it has, given when it had as many
 * as it asked for (undefined: not yet, so not before `REPLICATE_TIMEOUT`): as long again after
 * that as they took, at least `VOLUNTEER_GRACE`, and not after `VOLUNTEER_WINDOW` unless they came
 * later than that, then at once. Pure, so the simulator assigns as the daemon does.
 */
export function assignAt (start: number, fullAt: number | undefined): number {
  if (fullAt == null) return start + REPLICATE_TIMEOUT
  return Math.max(fullAt, Math.min(start + VOLUNTEER_WINDOW, fullAt + Math.max(VOLUNTEER_GRACE, fullAt - start)))
}

/**
 * Replication, the push CDN. A peer whose policy is on holds matching announced content: at once
 * when the announcement asks for no particular number of copies, else it volunteers and holds it
 * only if the publisher assigns it. The publisher waits for as many volunteers as it asked for
 * and a short grace after them (`assignAt`; up to `REPLICATE_TIMEOUT` while it has fewer) and
 * assigns the volunteers with the most room. Holders say HELD when they have it all.
 */
export class Replicator {
  private readonly init: ReplicatorInit
  /** Announcements seen, for assignments that follow them: cid → announcement */
  private readonly announced = new Map<string, Announcement>()
  private readonly requests = new Map<string, Request>()
  private readonly holding = new Set<string>()
  /** Announced bytes of the content being fetched to be held */
  private reserved = 0
  /** cid → holder → when we heard */
  private readonly holders = new Map<string, Map<string, number>>()
  private stopped = false
  private readonly now: () => number
  private readonly after: (ms: number, fn: () => void) => () => void

  constructor (init: ReplicatorInit) {
    this.init = init
    this.now = init.now ?? Date.now
    this.after = init.after ?? ((ms, fn) => {
      const t = setTimeout(fn, ms)
      return () => { clearTimeout(t) }
    })
  }

  stop (): void {
    this.stopped = true
    for (const r of this.requests.values()) {
      r.enough()
      for (const cancel of r.awaited.values()) cancel()
      r.awaited.clear()
    }
    this.requests.clear()
  }

  /**
   * Whether the policy takes this content, given the room there is. Replicas being fetched count
   * as held: their announced bytes are reserved from when they are taken until they are held or
   * given up, so announcements that arrive together cannot all pass the limits.
   */
  async wants (a: Announcement): Promise<boolean> {
    return await this.check(a, false) != null
  }

  /** `wants`, and if so the content's bytes reserved in the same step, with no await between */
  private async take (a: Announcement): Promise<boolean> {
    return await this.check(a, true) != null
  }

  /** The free room when the policy takes `a`, undefined when it does not (the room is read once) */
  private async check (a: Announcement, reserve: boolean): Promise<{ free: number } | undefined> {
    const p = this.init.policy
    if (!p.enabled || a.publisher === this.init.self) return undefined
    if (p.tags.length > 0 && !a.tags.some(t => p.tags.includes(t))) return undefined
    if (p.maxFileSize > 0 && a.size > p.maxFileSize) return undefined
    // the replicas held are read (every pin record) only when there is a limit to hold them to;
    // both are read before the checks, so nothing is reserved between a check and the reservation
    const replicated = p.maxTotalBytes > 0 ? await this.init.replicated() : 0
    const free = await this.init.free()
    if (p.maxTotalBytes > 0 && replicated + this.reserved + a.size > p.maxTotalBytes) return undefined
    if (this.reserved + a.size > free) return undefined
    if (reserve) {
      if (this.holding.has(a.cid)) return undefined
      this.holding.add(a.cid)
      this.reserved += a.size
    }
    return { free }
  }

  async onAnnounce (a: Announcement): Promise<void> {
    remember(this.announced, a.cid, a, MAX_HOLDER_CIDS)
    if (a.replicas === 0) {
      if (await this.take(a)) await this.hold(a)
      return
    }
    const taken = await this.check(a, false)
    if (taken == null) return
    await this.init.send({ kind: Replicate.Kind.VOLUNTEER, cid: a.cid, time: this.now(), free: taken.free, holders: [] })
  }

  async onReplicate (from: string, m: Replicate): Promise<void> {
    if (m.kind === Replicate.Kind.VOLUNTEER) {
      const r = this.requests.get(m.cid)
      if (r == null) return
      if (r.assigned.has(from)) return
      r.volunteers.set(from, m.free)
      if (r.volunteers.size >= r.replicas) {
        r.fullAt ??= this.now()
        r.enough()
      }
      return
    }
    if (m.kind === Replicate.Kind.HELD) {
      const r = this.requests.get(m.cid)
      if (r != null) this.heard(m.cid, r, from)
      this.noteHolder(m.cid, from)
      return
    }
    // ASSIGN counts only from the peer that announced the content
    const a = this.announced.get(m.cid)
    if (a == null || a.publisher !== from || !m.holders.includes(this.init.self)) return
    if (await this.take(a)) await this.hold(a)
  }

  /**
   * Fetch, pin and provide content `take` reserved room for; the reservation ends with it. HELD
   * goes out once every block is stored, not after the pin's write: the publisher's wait ends
   * there, and the write guard keeps gc off the blocks until the pin is written
   */
  private async hold (a: Announcement): Promise<void> {
    let said: Promise<void> | undefined
    const sayHeld = async (): Promise<void> => {
      said ??= (async () => {
        this.noteHolder(a.cid, this.init.self)
        await this.init.send({ kind: Replicate.Kind.HELD, cid: a.cid, time: this.now(), free: 0, holders: [] })
      })()
      await said
    }
    try {
      if (this.stopped) return
      // a publisher that is slow to answer, or a record not yet in the DHT, is worth a retry
      const start = this.now()
      for (let attempt = 1; ; attempt++) {
        try {
          await this.init.hold(a, () => {
            this.init.log.trace?.('%s: %s whole in %d ms', this.init.self, a.cid, this.now() - start)
            sayHeld().catch((err) => { this.init.log('could not say HELD for %s: %s', a.cid, err.message) })
          })
          this.init.log.trace?.('%s: fetched and pinned %s in %d ms', this.init.self, a.cid, this.now() - start)
          break
        } catch (err: any) {
          this.init.log('attempt %d to replicate %s failed: %s', attempt, a.cid, err.message)
          // a DAG larger than announced stays so: no retry
          if (attempt >= HOLD_ATTEMPTS || this.stopped || err.name === 'ContentTooLargeError') throw err
          await new Promise<void>(resolve => { this.after(attempt * HOLD_RETRY_DELAY, resolve) })
        }
      }
      await sayHeld()
    } catch (err: any) {
      this.init.log('could not replicate %s: %s', a.cid, err.message)
    } finally {
      this.holding.delete(a.cid)
      this.reserved -= a.size
    }
  }

  /**
   * As publisher: collect volunteers for `a` and assign `a.replicas` of them; resolves with the
   * peers assigned (fewer when fewer volunteered in time)
   */
  async request (a: Announcement, signal?: AbortSignal): Promise<string[]> {
    let enough!: () => void
    const full = new Promise<void>(resolve => { enough = resolve })
    const r: Request = { replicas: a.replicas, volunteers: new Map(), enough, assigned: new Set(), awaited: new Map(), replacements: HOLDER_REPLACEMENTS }
    this.requests.set(a.cid, r)
    const start = this.now()
    const onAbort = (): void => { enough() }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const wait = async (ms: number, untilFull: boolean): Promise<void> => {
        let cancel: (() => void) | undefined
        await Promise.race([
          new Promise<void>(resolve => { cancel = this.after(Math.max(0, ms), resolve) }),
          ...(untilFull ? [full] : [])
        ])
        cancel?.()
      }
      // until as many as asked for have volunteered, then a short grace so volunteers with more
      // room that are about as near have their chance
      await wait(assignAt(start, undefined) - start, true)
      if (!this.stopped && signal?.aborted !== true) await wait(assignAt(start, r.fullAt) - this.now(), false)
      const chosen = this.best(r, r.replicas)
      if (chosen.length > 0 && !this.stopped && signal?.aborted !== true) {
        await this.assign(a, r, chosen)
      }
      this.init.log('assigned %s to %d of %d asked', a.cid, chosen.length, r.replicas)
      return chosen
    } finally {
      signal?.removeEventListener('abort', onAbort)
      if (r.awaited.size === 0) this.requests.delete(a.cid)
    }
  }

  /** The `n` volunteers not yet assigned with the most room */
  private best (r: Request, n: number): string[] {
    return [...r.volunteers.entries()].filter(([id]) => !r.assigned.has(id)).sort((x, y) => y[1] - x[1]).slice(0, n).map(([id]) => id)
  }

  /**
   * Send ASSIGN naming `holders` and wait for their HELD: a holder not heard within
   * `heldDeadline` (it left, never heard the ASSIGN, or its fetch failed) has the volunteer with
   * the most room not yet assigned put in its place, up to `HOLDER_REPLACEMENTS` times a request.
   * The late holder may still send HELD; it counts as any holder does.
   */
  private async assign (a: Announcement, r: Request, holders: string[]): Promise<void> {
    for (const holder of holders) {
      r.assigned.add(holder)
      r.awaited.set(holder, this.after(heldDeadline(a.size), () => { void this.replace(a, r, holder) }))
    }
    await this.init.send({ kind: Replicate.Kind.ASSIGN, cid: a.cid, time: this.now(), free: 0, holders })
  }

  private async replace (a: Announcement, r: Request, late: string): Promise<void> {
    if (!r.awaited.delete(late) || this.stopped) return
    const next = r.replacements > 0 ? this.best(r, 1) : []
    if (next.length > 0) {
      r.replacements--
      this.init.log('no HELD for %s from %s in time: assigning %s', a.cid, late, next[0])
      await this.assign(a, r, next).catch((err) => { this.init.log('could not assign %s: %s', a.cid, err.message) })
    }
    if (r.awaited.size === 0 && this.requests.get(a.cid) === r) this.requests.delete(a.cid)
  }

  /** As publisher: an assigned holder said HELD */
  private heard (cid: string, r: Request, holder: string): void {
    const cancel = r.awaited.get(holder)
    if (cancel == null) return
    cancel()
    r.awaited.delete(holder)
    if (r.awaited.size === 0 && this.requests.get(cid) === r) this.requests.delete(cid)
  }

  private noteHolder (cid: string, holder: string): void {
    let m = this.holders.get(cid)
    if (m == null) {
      m = new Map()
      remember(this.holders, cid, m, MAX_HOLDER_CIDS)
    }
    if (!m.has(holder) && m.size >= MAX_HOLDERS_PER_CID) return
    m.set(holder, this.now())
    this.init.onHeld?.(cid, holder)
  }

  /** Peers heard to hold a CID, newest first */
  holdersOf (cid: string): Array<{ peerId: string, heardAt: number }> {
    return [...(this.holders.get(cid) ?? new Map<string, number>()).entries()]
      .sort((a, b) => b[1] - a[1]).map(([peerId, heardAt]) => ({ peerId, heardAt }))
  }
}

/** Insert into a map used as a bounded cache: the oldest entry goes when it is full */
function remember<K, V> (map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > max) {
    const oldest = map.keys().next()
    if (oldest.done !== true) map.delete(oldest.value)
  }
}
