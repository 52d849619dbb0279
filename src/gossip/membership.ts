import { FORGET_AFTER_BEATS, GONE_AFTER_BEATS, MAX_MEMBERS, SUSPECT_AFTER_BEATS } from '../constants.js'
import type { Presence } from './messages.js'

export type MemberState = 'alive' | 'suspect' | 'gone'

/** One row of the membership table */
export interface Member {
  peerId: string
  addresses: string[]
  version: string
  /** Bytes it can still store */
  free: number
  /** Peers it uploads to now, of `uploadSlots` */
  uploads: number
  uploadSlots: number
  pins: number
  /** When its last beat arrived (our clock), ms since the epoch */
  lastSeen: number
  /** Its heartbeat period, ms */
  interval: number
  state: MemberState
  /** This peer's own row */
  self?: boolean
}

/**
 * Who is in the swarm, from presence beats. A member that misses beats turns suspect after
 * 1.5 of its own periods and gone after 2.5, so a member that dies is gone everywhere within 3
 * periods of its last beat; gone members are forgotten after 60 periods.
 */
export class MembershipTable {
  private readonly members = new Map<string, Member>()
  private readonly onChange?: (member: Member, previous?: MemberState) => void

  constructor (onChange?: (member: Member, previous?: MemberState) => void) {
    this.onChange = onChange
  }

  /** Record a beat; returns false when the table is full and the member is new */
  beat (peerId: string, p: Presence, now = Date.now()): boolean {
    const previous = this.members.get(peerId)
    if (previous == null && this.members.size >= MAX_MEMBERS) {
      this.sweep(now)
      if (this.members.size >= MAX_MEMBERS) return false
    }
    const member: Member = {
      peerId,
      addresses: p.addrs,
      version: p.version,
      free: p.free,
      uploads: p.uploads,
      uploadSlots: p.uploadSlots,
      pins: p.pins,
      lastSeen: now,
      interval: p.interval,
      state: 'alive'
    }
    this.members.set(peerId, member)
    if (previous?.state !== 'alive') this.onChange?.(member, previous?.state)
    return true
  }

  /** Move members along alive → suspect → gone as beats are missed, and forget the long gone */
  sweep (now = Date.now()): void {
    for (const [id, m] of this.members) {
      const missed = (now - m.lastSeen) / m.interval
      if (missed >= FORGET_AFTER_BEATS) {
        this.members.delete(id)
        continue
      }
      const state: MemberState = missed >= GONE_AFTER_BEATS ? 'gone' : missed >= SUSPECT_AFTER_BEATS ? 'suspect' : 'alive'
      if (state !== m.state) {
        const previous = m.state
        m.state = state
        this.onChange?.(m, previous)
      }
    }
  }

  get (peerId: string): Member | undefined {
    return this.members.get(peerId)
  }

  list (): Member[] {
    return [...this.members.values()].map(m => ({ ...m, addresses: [...m.addresses] }))
  }

  /** Rows held, gone members included */
  get rows (): number {
    return this.members.size
  }

  /** Members not gone */
  get size (): number {
    let n = 0
    for (const m of this.members.values()) if (m.state !== 'gone') n++
    return n
  }
}

/**
 * How much a fetch should prefer a provider: lightly loaded members first, then members with
 * no recent beat, then suspect ones; lower is better
 */
export function loadRank (m: Member | undefined): number {
  if (m == null) return 1
  if (m.state !== 'alive') return 2
  return m.uploadSlots > 0 ? Math.min(m.uploads / m.uploadSlots, 1) : 1
}
