/**
 * Presence without I/O: the membership table and the heartbeat and sweep timers of one peer, as
 * plain state. Time comes in as an argument, timers go out as a deadline (`nextDue`), beats go
 * out as messages to publish and come in as decoded, validated messages. The daemon drives it
 * with `setTimeout` and gossipsub (`index.ts`); the simulator (`bench/sim/`) drives thousands of
 * copies on a virtual clock. Nothing here reads a clock, sets a timer or touches the network.
 */
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
  /** Heartbeat period, ms */
  intervalMs: number
  /** A member changed state (or is new: `previous` undefined) */
  onChange?(member: Member, previous?: MemberState): void
}

/** What `tick` found due */
export interface Due {
  /** A beat is due: gather this peer's state and call `beat` */
  beat: boolean
}

/** Sweeps come four times a period, so a silent member is gone within 3 periods of its last beat */
const SWEEPS_PER_PERIOD = 4
const MIN_SWEEP_EVERY = 50

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
  private readonly table: MembershipTable
  private nextBeat = Infinity
  private nextSweep = Infinity

  constructor (init: PresenceCoreInit) {
    this.self = init.self
    this.intervalMs = init.intervalMs
    this.sweepEveryMs = Math.max(MIN_SWEEP_EVERY, Math.floor(init.intervalMs / SWEEPS_PER_PERIOD))
    this.table = new MembershipTable(init.onChange)
  }

  /** The first beat is due at once, the first sweep a quarter period later */
  start (now: number): void {
    this.nextBeat = now
    this.nextSweep = now + this.sweepEveryMs
  }

  stop (): void {
    this.nextBeat = Infinity
    this.nextSweep = Infinity
  }

  /** When `tick` next has something to do (ms, the caller's clock); Infinity when stopped */
  nextDue (): number {
    return Math.min(this.nextBeat, this.nextSweep)
  }

  /** Run what is due by `now`: the sweep here, the beat through the caller (it needs the load) */
  tick (now: number): Due {
    let beat = false
    if (now >= this.nextSweep) {
      this.table.sweep(now)
      this.nextSweep = next(this.nextSweep, this.sweepEveryMs, now)
    }
    if (now >= this.nextBeat) {
      beat = true
      this.nextBeat = next(this.nextBeat, this.intervalMs, now)
    }
    return { beat }
  }

  /** This peer's beat: recorded in its own row, and returned as the message to publish */
  beat (state: SelfState, now: number): Presence {
    const presence: Presence = { ...state, addrs: state.addrs.slice(0, 16), time: now, interval: this.intervalMs }
    this.table.beat(this.self, presence, now)
    return presence
  }

  /**
   * A beat from a member, decoded and validated (validate.ts); returns false when the table is
   * full and the member is new
   */
  receive (from: string, presence: Presence, now: number): boolean {
    return this.table.beat(from, presence, now)
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

  /** Members in the table, gone ones included (what it holds in memory) */
  get rows (): number {
    return this.table.rows
  }
}
