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
  /** Connected, and beating to this peer over the connection: judged by those beats */
  neighbour?: boolean
  /** Its estimate of the swarm's size (peers of the first version do not say) */
  swarm?: number
}

/** How a beat arrived: on a global topic (signed, gossiped) or from a neighbour over its connection */
export type BeatKind = 'global' | 'neighbour'

export interface MembershipOptions {
  /**
   * Rows held at most; past it a new member takes the row of the member heard from least
   * recently that is not a neighbour (neighbours are always kept)
   */
  maxRows?: number
  /** This peer's id: its own row is never given up */
  self?: string
}

/**
 * Who is in the swarm, from presence beats. A member that misses beats turns suspect after
 * 1.5 of its own periods and gone after 2.5, so a member that dies is gone everywhere within 3
 * periods of its last beat; gone members are forgotten after 60 periods.
 *
 * A member that beats to this peer over their connection (a neighbour) is judged by those beats
 * alone, with the neighbour period, while it is connected: its global beats, with a period that
 * may be hours in a large swarm, update what it says but not whether it lives, so a crashed
 * neighbour is noticed within 3 neighbour periods whatever the size of the swarm. Once it is no
 * longer connected it is judged from its last neighbour beat until a global beat comes.
 */
export class MembershipTable {
  private readonly members = new Map<string, Member>()
  /** Connected peers, and whether they beat to us over the connection (v2) */
  private readonly connected = new Map<string, boolean>()
  private readonly onChange?: (member: Member, previous?: MemberState) => void
  readonly maxRows: number
  private readonly self?: string
  /** Rows given up to make room: once any are, the table is a sample of the swarm */
  evicted = 0

  constructor (onChange?: (member: Member, previous?: MemberState) => void, options: MembershipOptions = {}) {
    this.onChange = onChange
    this.maxRows = options.maxRows ?? MAX_MEMBERS
    this.self = options.self
  }

  /** Record a beat; returns false when the table is full of neighbours and the member is new */
  beat (peerId: string, p: Presence, now = Date.now(), kind: BeatKind = 'global'): boolean {
    const previous = this.members.get(peerId)
    const direct = this.connected.get(peerId) === true
    if (kind === 'neighbour' && this.connected.has(peerId)) this.connected.set(peerId, true)
    if (previous == null && this.members.size >= this.maxRows && !this.makeRoom(now, kind === 'neighbour' || this.connected.has(peerId))) return false
    // a connected neighbour's global beat says what it has, not that it lives
    const liveness = kind === 'neighbour' || !direct || previous == null
    const member: Member = {
      peerId,
      addresses: p.addrs,
      version: p.version,
      free: p.free,
      uploads: p.uploads,
      uploadSlots: p.uploadSlots,
      pins: p.pins,
      lastSeen: liveness ? now : previous.lastSeen,
      interval: liveness ? p.interval : previous.interval,
      state: liveness ? 'alive' : previous.state,
      ...(p.swarm > 0 ? { swarm: p.swarm } : {}),
      ...(this.connected.get(peerId) === true ? { neighbour: true } : {})
    }
    // the most recently heard go last, so the first rows are the ones to give up
    if (previous != null) this.members.delete(peerId)
    this.members.set(peerId, member)
    if (previous?.state !== member.state) this.onChange?.(member, previous?.state)
    return true
  }

  /** Free a row: gone members first, then the least recently heard that is not a neighbour */
  private makeRoom (now: number, neighbour: boolean): boolean {
    this.sweep(now)
    if (this.members.size < this.maxRows) return true
    let victim: string | undefined
    for (const [id, m] of this.members) {
      if (this.connected.has(id) || id === this.self) continue
      if (m.state === 'gone') { victim = id; break }
      victim ??= id
    }
    if (victim == null) return neighbour
    this.members.delete(victim)
    this.evicted++
    return true
  }

  /** A connection to `peerId` opened */
  connect (peerId: string): void {
    if (!this.connected.has(peerId)) this.connected.set(peerId, false)
  }

  /** The connection to `peerId` closed: it is judged from its last neighbour beat until a global beat comes */
  disconnect (peerId: string): void {
    this.connected.delete(peerId)
    const m = this.members.get(peerId)
    if (m != null) delete m.neighbour
  }

  /** Connected peers that beat to this peer over the connection */
  neighbours (): string[] {
    return [...this.connected.keys()]
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

  /** Swarm sizes that neighbours report */
  reported (): number[] {
    const r: number[] = []
    for (const id of this.connected.keys()) {
      const s = this.members.get(id)?.swarm
      if (s != null) r.push(s)
    }
    return r
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
