/**
 * Peers reachable only through a limited relay. A relay's default circuit (128 KiB, 2 minutes in
 * js-libp2p) is for arranging a direct connection, not for carrying files. When a peer it wants
 * is behind such a circuit, the exchange opens its stream on the circuit all the same, and the
 * serving side answers only the blocks that fit what is left of the circuit's budget (`fits`:
 * a small file comes through whole; a larger one's first block that does not fit is answered
 * `OVER_BUDGET`, and the fetcher stops asking that peer over the circuit). Meanwhile it waits a
 * few seconds for a direct connection (the NATed side dialling back, or DCUtR), and otherwise
 * says which peer and relay, and why.
 */
import type { Connection, Libp2p, PeerId } from '@libp2p/interface'

const second = 1000
/** How long a join waits for a direct connection once it finds only a limited one */
export const DIRECT_WAIT = 8 * second
const POLL = 250

type Connections = Pick<Libp2p, 'getConnections'>
type Events = Pick<Libp2p, 'addEventListener' | 'removeEventListener'>

/**
 * The byte budget each limited connection had when it opened: `connection.limits` counts down as
 * bytes cross it, and the error names the relay's budget, not what is left of it
 */
export class CircuitBudgets {
  private readonly host: Events
  private readonly budgets = new WeakMap<Connection, bigint>()
  private readonly onOpen = (evt: CustomEvent<Connection>): void => {
    const bytes = evt.detail.limits?.bytes
    if (bytes != null) this.budgets.set(evt.detail, bytes)
  }

  constructor (host: Events) {
    this.host = host
  }

  start (): void {
    this.host.addEventListener('connection:open', this.onOpen)
  }

  stop (): void {
    this.host.removeEventListener('connection:open', this.onOpen)
  }

  /** Bytes the connection could carry when it opened (what is left, if it opened unseen) */
  of (conn: Connection): bigint | undefined {
    return this.budgets.get(conn) ?? conn.limits?.bytes
  }
}

/**
 * What a block costs a relayed connection beyond its bytes, as a share of them: a noise message
 * (2-byte length, 16-byte tag) per <= 64 KiB and a yamux header per frame come to ~0.04%; 1/64
 * leaves room for the response's head and for frames written while the check ran
 */
const OVERHEAD_SHARE = 64
/**
 * Budget kept back on a limited connection for the rest of its conversation: the fetcher's
 * wants, window updates, a cancel and the streams' close, all counted against the same budget
 */
export const CIRCUIT_RESERVE = 4096
/** Seconds a limited connection must have left for a block to be sent over it */
const MIN_SECONDS_LEFT = 5

/**
 * Whether `bytes` of a block may go out over `conn` now: always on a direct connection; on a
 * limited one only while its byte budget (what is left of it, counted down by the relay
 * transport as bytes cross either way) covers the block, its framing and `CIRCUIT_RESERVE`, and
 * its time has not nearly run out
 */
export function fits (conn: Pick<Connection, 'limits'>, bytes: number): boolean {
  const limits = conn.limits
  if (limits == null) return true
  if (limits.seconds != null && limits.seconds < MIN_SECONDS_LEFT) return false
  if (limits.bytes == null) return true
  const need = bytes + Math.ceil(bytes / OVERHEAD_SHARE) + CIRCUIT_RESERVE
  return BigInt(need) <= limits.bytes
}

/** Whether a connection carries a relay's limits */
export function isLimited (conn: Connection): boolean {
  return conn.limits != null
}

/** A connection to `peer` that content can flow over: open and without relay limits */
export function directConnection (host: Connections, peer: PeerId): Connection | undefined {
  return host.getConnections(peer).find(c => c.status === 'open' && !isLimited(c))
}

/**
 * Wait up to `ms` for a direct connection to `peer`; true when there is one. Gives up early,
 * false, once `signal` is aborted or `stop()` says the wait is no longer needed.
 */
export async function waitForDirect (host: Connections, peer: PeerId, ms: number, signal?: AbortSignal, stop?: () => boolean): Promise<boolean> {
  const deadline = Date.now() + ms
  while (directConnection(host, peer) == null) {
    if (Date.now() >= deadline || signal?.aborted === true || stop?.() === true) return false
    await new Promise(resolve => setTimeout(resolve, POLL))
  }
  return true
}

/**
 * A budget in readable units, rounded up: the connection is seen only after its encryption
 * handshake crossed the relay, a few hundred bytes into the relay's round figure
 */
function size (bytes: bigint): string {
  const n = Number(bytes)
  if (n >= 1024 * 1024) return `${Math.ceil(n / 1024 / 1024)} MiB`
  if (n >= 1024) return `${Math.ceil(n / 1024)} KiB`
  return `${n} bytes`
}

/**
 * Why `peer` cannot be fetched from, when its only connections are limited relayed ones:
 * `<peer> is behind a NAT and reachable only through relay R, which allows 128 KiB per circuit`
 */
export function limitedReason (host: Connections, budgets: CircuitBudgets, peer: PeerId): string | undefined {
  const conns = host.getConnections(peer)
  const limited = conns.find(isLimited)
  if (limited == null || conns.some(c => !isLimited(c))) return undefined
  const relay = limited.remoteAddr.getComponents().find(c => c.name === 'p2p')?.value ?? 'unknown'
  const bytes = budgets.of(limited)
  // only the byte budget is named: js-libp2p relays send their duration limit in milliseconds
  // where the protocol says seconds, so the figure a client sees cannot be trusted
  const allows = bytes != null ? `${size(bytes)} per circuit` : 'circuits of limited duration'
  return `${peer.toString()} is behind a NAT and reachable only through relay ${relay}, which allows ${allows}: no direct connection could be made within ${DIRECT_WAIT / second} s (neither side could dial the other, and hole punching did not succeed); fetch it from a peer that is publicly reachable, or use a relay with unlimited circuits (relay.circuitBytes 0)`
}
