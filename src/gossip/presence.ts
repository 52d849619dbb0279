/**
 * Presence without I/O: the membership table and the heartbeat and sweep timers of one peer, as
 * plain state. Time comes in as an argument, timers go out as a deadline (`nextDue`), beats go
 * out as messages to publish and come in as decoded, validated messages. The daemon drives it
 * with `setTimeout` and gossipsub (`index.ts`); the simulator (`bench/sim/`) drives thousands of
 * copies on a virtual clock. Nothing here reads a clock, sets a timer or touches the network.
 */
import { MAX_GLOBAL_INTERVAL, MAX_V1_INTERVAL } from '../constants.js'
import { SizeEstimate } from './estimate.js'
import { MembershipTable } from './membership.js'
import type { Member, MemberState } from './membership.js'
import type { Presence } from './messages.js'

/** What this peer says about itself in a beat */
export interface SelfState {
  addrs: string[]
  version: string
  free: number
  uploads: number
  uploadSlots: number
  pins: number
}

export interface PresenceCoreInit {
  /** This peer's id */
  self: string
  /** Heartbeat period, ms: of neighbour beats, and the shortest period of global beats */
  intervalMs: number
  /**
   * Global beats a period that the whole swarm may send (so that each peer receives): each peer
   * stretches its global period to max(1, size / budget) periods, from its estimate of the
   * swarm's size, so a swarm of up to `budget` peers beats as the first design does. Unset: the
   * first design, where every beat is global and there are no neighbour beats.
   */
  budget?: number
  /** Rows the membership table holds at most (neighbours always kept) */
  maxRows?: number
  /** Random numbers in [0, 1), for the phase of the first global beat */
  random?: () => number
  /** A member changed state (or is new: `previous` undefined) */
  onChange?(member: Member, previous?: MemberState): void
}

/** What `tick` found due */
export interface Due {
  /** A global beat is due: gather this peer's state, call `beat` and publish what it returns */
  beat: boolean
  /** Neighbours a neighbour beat is due to (`neighbourBeat`), over their connections */
  neighbours: string[]
  /** Peers of the first version are about: publish the global beat on their topic too */
  legacy: boolean
}

/** How a beat arrived: on the v2 global topic, the first version's topic, or from a neighbour */
export type Heard = 'global' | 'legacy' | 'neighbour'

/** Sweeps come four times a period, so a silent member is gone within 3 periods of its last beat */
const SWEEPS_PER_PERIOD = 4
const MIN_SWEEP_EVERY = 50
/** The window of the size estimate, in periods */
const ESTIMATE_WINDOW = 20
const MIN_WINDOW_BEATS = 64

/**
 * The next run of a periodic timer that ran at `now`: one period after it was due, or, when it
 * ran late by more than that (a busy event loop, a suspended laptop), one period after `now`, as
 * `setInterval` does: missed runs are skipped, not sent in a burst
 */
function next (due: number, every: number, now: number): number {
  return due + every > now ? due + every : now + every
}

export class PresenceCore {
  readonly self: string
  readonly intervalMs: number
  readonly sweepEveryMs: number
  readonly budget?: number
  private readonly table: MembershipTable
  private readonly estimate: SizeEstimate
  private readonly random: () => number
  private nextSweep = Infinity
  /** The first global beat comes at a random phase of the period, then one declared period apart */
  private started = Infinity
  private phase = 0
  private nextBeat = Infinity
  private nextNeighbours = Infinity
  private readonly fresh = new Set<string>()
  private legacySeen = -Infinity

  constructor (init: PresenceCoreInit) {
    this.self = init.self
    this.intervalMs = init.intervalMs
    this.budget = init.budget
    this.random = init.random ?? Math.random
    this.sweepEveryMs = Math.max(MIN_SWEEP_EVERY, Math.floor(init.intervalMs / SWEEPS_PER_PERIOD))
    this.table = new MembershipTable(init.onChange, { maxRows: init.maxRows, self: init.self })
    // the window holds some 20 periods, and at least MIN_WINDOW_BEATS of the swarm's budgeted beats
    this.estimate = new SizeEstimate(Math.max(ESTIMATE_WINDOW * init.intervalMs, init.budget != null ? MIN_WINDOW_BEATS * init.intervalMs / init.budget : 0))
  }

  /**
   * The first beat is due at once (first design) or at a random phase of the global period (v2),
   * the first sweep a quarter period later; `swarm`: the swarm's size as last known, if it is
   */
  start (now: number, swarm?: number): void {
    this.nextSweep = now + this.sweepEveryMs
    this.estimate.start(now, swarm)
    if (this.budget == null) {
      this.nextBeat = now
      return
    }
    // peers that start together do not beat together
    this.started = now
    this.phase = this.random()
    this.nextBeat = Infinity
    this.nextNeighbours = now + Math.floor(this.random() * this.intervalMs)
    this.nextSweep = now + Math.floor(this.random() * this.sweepEveryMs)
  }

  stop (): void {
    this.nextBeat = Infinity
    this.nextSweep = Infinity
    this.nextNeighbours = Infinity
    this.started = Infinity
    this.fresh.clear()
  }

  /** The swarm's size as this peer estimates it, itself included */
  swarmSize (now: number): number {
    return Math.round(this.estimate.size(now, this.table.reported(), this.table.size))
  }

  /** The period of this peer's global beats: long enough that the swarm's beats fit the budget */
  globalInterval (now: number): number {
    if (this.budget == null) return this.intervalMs
    let every = Math.min(MAX_GLOBAL_INTERVAL, Math.max(this.intervalMs, Math.ceil(this.swarmSize(now) * this.intervalMs / this.budget)))
    // peers of the first version cannot take a period above theirs
    if (this.legacy(now)) every = Math.min(every, MAX_V1_INTERVAL)
    return every
  }

  /** Whether a peer of the first version beat within the longest period it accepts */
  legacy (now: number): boolean {
    return now - this.legacySeen < MAX_V1_INTERVAL
  }

  private globalDue (now: number): number {
    if (this.started === Infinity) return this.nextBeat
    return this.started + this.phase * this.globalInterval(now)
  }

  /** When `tick` next has something to do (ms, the caller's clock); Infinity when stopped */
  nextDue (now = -Infinity): number {
    const fresh = this.fresh.size > 0 ? now : Infinity
    return Math.min(this.globalDue(now), this.nextSweep, this.nextNeighbours, fresh)
  }

  /** Run what is due by `now`: the sweep here, the beats through the caller (they need the load) */
  tick (now: number): Due {
    if (now >= this.nextSweep) {
      this.table.sweep(now)
      this.nextSweep = next(this.nextSweep, this.sweepEveryMs, now)
    }
    const beat = now >= this.globalDue(now)
    if (beat && this.budget == null) this.nextBeat = next(this.nextBeat, this.intervalMs, now)
    let neighbours: string[] = []
    if (now >= this.nextNeighbours) {
      neighbours = this.table.neighbours()
      this.nextNeighbours = next(this.nextNeighbours, this.intervalMs, now)
    } else if (this.fresh.size > 0) {
      neighbours = [...this.fresh]
    }
    this.fresh.clear()
    return { beat, neighbours, legacy: this.budget != null && this.legacy(now) }
  }

  /** This peer's global beat: recorded in its own row, and returned as the message to publish */
  beat (state: SelfState, now: number): Presence {
    const interval = this.globalInterval(now)
    if (this.budget != null) {
      // the next one comes when this one says
      this.started = Infinity
      this.nextBeat = now + interval
    }
    const presence: Presence = { ...state, addrs: state.addrs.slice(0, 16), time: now, interval, swarm: this.budget != null ? this.swarmSize(now) : 0 }
    this.table.beat(this.self, presence, now)
    return presence
  }

  /** This peer's neighbour beat, the same to every neighbour: its load, at the neighbour period */
  neighbourBeat (state: SelfState, now: number): Presence {
    this.note(state, now)
    return { ...state, addrs: state.addrs.slice(0, 16), time: now, interval: this.intervalMs, swarm: this.swarmSize(now) }
  }

  /** This peer's own row, brought up to date without a beat (v2 beats globally rarely) */
  note (state: SelfState, now: number): void {
    const swarm = this.budget != null ? this.swarmSize(now) : 0
    this.table.beat(this.self, { ...state, addrs: state.addrs.slice(0, 16), time: now, interval: this.globalInterval(now), swarm }, now)
  }

  /**
   * A beat from a member, decoded and validated (validate.ts); returns false when it was not
   * recorded (the table is full of neighbours, or it is a v2 peer's copy on the first version's
   * topic, which its beat on the v2 topic carries already)
   */
  receive (from: string, presence: Presence, now: number, heard: Heard = 'global'): boolean {
    if (from === this.self) return false
    if (heard === 'legacy') {
      if (presence.swarm > 0) return false
      this.legacySeen = now
    }
    if (heard !== 'neighbour') this.estimate.add(presence.interval, now)
    return this.table.beat(from, presence, now, heard === 'neighbour' ? 'neighbour' : 'global')
  }

  /** A connection to `peerId` opened: a neighbour beat goes to it at once, so it learns this peer's load and estimate */
  connected (peerId: string): void {
    if (peerId === this.self) return
    this.table.connect(peerId)
    if (this.budget != null && this.nextSweep !== Infinity) this.fresh.add(peerId)
  }

  disconnected (peerId: string): void {
    this.table.disconnect(peerId)
    this.fresh.delete(peerId)
  }

  /**
   * What this peer's view covers: its estimate of the swarm, the members it lists alive, and
   * whether that is a part of the swarm (a large swarm, or rows given up for room)
   */
  view (now: number): { estimate: number, known: number, partial: boolean } {
    const known = this.table.size
    const estimate = this.budget != null ? this.swarmSize(now) : known
    return { estimate, known, partial: this.table.evicted > 0 || estimate > Math.ceil(1.1 * known) + 1 }
  }

/** The table, swept to `now`, this peer's own row marked */
  members (now: number): Member[] {
    this.table.sweep(now)
    return this.table.list().map(m => m.peerId === this.self ? { ...m, self: true } : m)
  }

  member (peerId: string): Member | undefined {
    return this.table.get(peerId)
  }

  /** Members not gone */
  get size (): number {
    return this.table.size
  }

  /** Rows given up for room */
  get evicted (): number {
    return this.table.evicted
  }

  /** Members in the table, gone ones included (what it holds in memory) */
  get rows (): number {
    return this.table.rows
  }
}
