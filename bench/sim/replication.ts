/**
 * Replication in the simulator: each peer whose policy is on runs shoal's own `Replicator`
 * (`src/gossip/replicate.ts`: volunteers, the publisher's `assignAt` wait and choice, ASSIGN, HELD)
 * on the virtual clock; its messages go over the simulated gossipsub. What the daemon does with
 * libp2p in `hold` (fetch the content from the publisher, pin, provide) is a model: a dial when the
 * holder is not connected to the publisher (two round trips), the request (one way), then the
 * content's blocks over the publisher's uplink, one after another, each with the link's latency
 * and loss. Holders fetch from the publisher only (the others do not provide until they hold it all).
 */
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { Replicator } from '../../src/gossip/replicate.js'
import type { Announcement } from '../../src/gossip/index.js'
import type { Replicate } from '../../src/gossip/messages.js'

/** The exchange's block size for files (256 KiB chunks) */
const BLOCK = 256 * 1024
/** Bytes of a want request for a file's blocks */
const REQUEST = 200

/** What replication needs of the swarm that runs it */
export interface ReplicationHost {
  /** Virtual ms since the start; the replicators' clock is this plus `epoch` */
  now(): number
  epoch: number
  /** Run `fn` at virtual time `ms`, unless cancelled */
  at(ms: number, fn: () => void): () => void
  /** Peer `i` publishes a replicate message on gossipsub */
  publish(i: number, m: Replicate): void
  /** Send `bytes` from `a` to `b` over a's uplink and the link; `fn` runs when they arrive (not if b is down) */
  deliver(a: number, b: number, bytes: number, fn: () => void): void
  /** Whether a and b are connected; if not, `dial` connects them after two round trips and then runs `fn` */
  connected(a: number, b: number): boolean
  dial(a: number, b: number, fn: () => void): void
  index(id: string): number | undefined
  id(i: number): string
  /** Async work was started or resumed: the run lets promises settle before it moves the clock */
  wake(): void
}

export interface Replicated {
  /** Per announcement asking for replicas: ms until its publisher had heard HELD from that many holders (undefined: not within the run) */
  heldMs: Array<number | undefined>
  /** Per announcement: holders the publisher assigned */
  assigned: number[]
  /** Per announcement: ms until the publisher assigned, and until it heard its first holder */
  assignMs: Array<number | undefined>
  firstHeldMs: Array<number | undefined>
}

interface Request { at: number, replicas: number, heard: Set<string>, heldMs?: number, firstMs?: number, assignMs?: number, assigned: number }

const noLog = Object.assign(() => {}, { enabled: false, trace: () => {}, error: () => {}, newScope: () => noLog }) as any

export class Replication {
  private readonly host: ReplicationHost
  private readonly replicators = new Map<number, Replicator>()
  /** cid → the publisher's request: when it was announced, holders heard, and when enough were */
  private readonly requests = new Map<string, Request>()
  private readonly order: string[] = []
  private n = 0

  constructor (host: ReplicationHost) {
    this.host = host
  }

  /** Peer `i` replicates: its policy is on, any tag, any size, with room to spare */
  enable (i: number): void {
    this.replicator(i, true)
  }

  private replicator (i: number, enabled: boolean): Replicator {
    let r = this.replicators.get(i)
    if (r != null) return r
    const h = this.host
    r = new Replicator({
      self: h.id(i),
      policy: { enabled, tags: [], maxFileSize: 0, maxTotalBytes: 0 },
      log: noLog,
      send: async (m) => { h.publish(i, m) },
      free: async () => 50e9 + i,
      replicated: async () => 0,
      hold: async (a) => { await this.fetch(i, a) },
      onHeld: (cid, holder) => { this.held(i, cid, holder) },
      now: () => h.epoch + h.now(),
      after: (ms, fn) => h.at(h.now() + ms, () => { h.wake(); fn() })
    })
    this.replicators.set(i, r)
    return r
  }

  /** A new announcement's content id (distinct per announcement, valid as the daemon checks it) */
  nextCid (): string {
    return CID.createV1(0x55, identity.digest(new TextEncoder().encode(`sim-file-${this.n++}`))).toString()
  }

  /** Peer `i` is about to publish `a`: it asks for volunteers first, as the daemon does */
  request (i: number, a: Announcement): void {
    if (a.replicas === 0) return
    const req: Request = { at: this.host.now(), replicas: a.replicas, heard: new Set<string>(), assigned: 0 }
    this.requests.set(a.cid, req)
    this.order.push(a.cid)
    this.host.wake()
    void this.replicator(i, false).request(a).then((chosen) => {
      req.assigned = chosen.length
      req.assignMs = this.host.now() - req.at
    })
  }

  onAnnounce (i: number, a: Announcement): void {
    const r = this.replicators.get(i)
    if (r == null) return
    this.host.wake()
    void r.onAnnounce(a)
  }

  /** Peers whose policy is off keep no replicator here (in the daemon they only note holders) */
  onReplicate (i: number, from: string, m: Replicate): void {
    const r = this.replicators.get(i)
    if (r == null) return
    this.host.wake()
    void r.onReplicate(from, m)
  }

  private held (i: number, cid: string, holder: string): void {
    const req = this.requests.get(cid)
    if (req == null || holder === this.host.id(i)) return
    req.heard.add(holder)
    req.firstMs ??= this.host.now() - req.at
    if (req.heldMs == null && req.heard.size >= req.replicas) req.heldMs = this.host.now() - req.at
  }

  /** The holder's fetch from the publisher: dial if needed, ask, then the blocks over its uplink */
  private async fetch (i: number, a: Announcement): Promise<void> {
    const h = this.host
    const p = h.index(a.publisher)
    if (p == null) throw new Error('publisher unknown')
    await new Promise<void>((resolve) => {
      const ask = (): void => {
        h.deliver(i, p, REQUEST, () => {
          let left = a.size
          let blocks = 0
          while (left > 0) {
            const n = Math.min(BLOCK, left)
            left -= n
            blocks++
            h.deliver(p, i, n, () => { if (--blocks === 0) { h.wake(); resolve() } })
          }
        })
      }
      if (h.connected(i, p)) ask()
      else h.dial(i, p, ask)
    })
  }

  result (): Replicated {
    const reqs = this.order.map(cid => this.requests.get(cid)).filter(r => r != null)
    return { heldMs: reqs.map(r => r.heldMs), assigned: reqs.map(r => r.assigned), assignMs: reqs.map(r => r.assignMs), firstHeldMs: reqs.map(r => r.firstMs) }
  }

  stop (i: number): void {
    this.replicators.get(i)?.stop()
  }
}
