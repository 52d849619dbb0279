/**
 * A model of gossipsub's dissemination (not the library): per topic a mesh of D = 6 peers
 * (kept between 4 and 12 on a 1 s heartbeat), flood publishing by the author to every connected
 * subscriber, forwarding of the first copy to the mesh (not back to the peer it came from nor to
 * its author), IHAVE of the ids of the last 3 heartbeats to max(6, 25% of) the non-mesh peers,
 * IWANT for the ids not seen, and the message sent again in reply. Every copy that arrives is
 * counted, and every copy costs a signature check: js gossipsub verifies the signature before it
 * looks in its seen-cache (no fast message id is configured). The parameters are the library's
 * defaults, which shoal keeps. Not modelled: peer scoring, opportunistic grafting, PX, backoff,
 * IDONTWANT (shoal's messages are under its 512-byte threshold), the limits on IHAVEs per
 * heartbeat.
 */

export const D = 6
export const D_LO = 4
export const D_HI = 12
export const D_LAZY = 6
export const GOSSIP_FACTOR = 0.25
export const HEARTBEAT_MS = 1000
export const HISTORY_GOSSIP = 3
export const MAX_IHAVE_LENGTH = 5000

/** One gossipsub message, shared by every peer that holds a copy */
export interface Msg {
  topic: number
  /** Index of its author */
  origin: number
  data: Uint8Array
  /** Bytes of the RPC that carries it */
  size: number
  /** When it was published, virtual ms */
  sent: number
  /** Which peers have seen it (one bit each): each peer's seen-cache for this message */
  seen: Uint8Array
  /** Peers reached, its author not included */
  reached: number
  /** Peers to reach for 99% (set when published), and when that happened */
  target: number
  at99?: number
}

export function hasSeen (m: Msg, p: number): boolean {
  return (m.seen[p >> 3] & (1 << (p & 7))) !== 0
}

export function markSeen (m: Msg, p: number): void {
  m.seen[p >> 3] |= 1 << (p & 7)
}

/** One peer's router state */
export class RouterState {
  /** Connected peers (all subscribe to every topic) */
  readonly conns = new Set<number>()
  /** Per topic, the mesh */
  readonly mesh: Array<Set<number>>
  /** Per topic, the ids of the last HISTORY_GOSSIP heartbeats, newest first */
  windows: Msg[][][]

  constructor (topics: number) {
    this.mesh = Array.from({ length: topics }, () => new Set<number>())
    this.windows = Array.from({ length: topics }, () => Array.from({ length: HISTORY_GOSSIP }, () => []))
  }

  remember (m: Msg): void {
    this.windows[m.topic][0].push(m)
  }

  /** The ids to advertise in an IHAVE on a topic, newest window first, capped */
  gossipIds (topic: number): Msg[] {
    const ids: Msg[] = []
    for (const w of this.windows[topic]) {
      for (const m of w) {
        if (ids.length >= MAX_IHAVE_LENGTH) return ids
        ids.push(m)
      }
    }
    return ids
  }

  /** A heartbeat ends: the oldest window goes */
  shift (): void {
    for (const w of this.windows) {
      w.pop()
      w.unshift([])
    }
  }
}

/** Up to `n` items of `xs`, chosen uniformly, with the given random source */
export function sample<T> (xs: T[], n: number, random: () => number): T[] {
  if (xs.length <= n) return xs
  const a = [...xs]
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (a.length - i))
    const t = a[i]; a[i] = a[j]; a[j] = t
  }
  return a.slice(0, n)
}

/** How many non-mesh peers get an IHAVE each heartbeat */
export function gossipTargets (nonMesh: number): number {
  return Math.max(D_LAZY, Math.floor(GOSSIP_FACTOR * nonMesh))
}
