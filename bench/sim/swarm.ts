/**
 * Many shoal peers in one process on a virtual clock. Each peer runs shoal's own presence core
 * (`src/gossip/presence.ts`: membership table, beat and sweep timers) and shoal's own validation
 * (`decodeChecked` with the topic's checks, on every first copy); what carries the messages is a
 * model: gossipsub (`gossipsub.ts`), links (latency, loss, uplink bandwidth), and the peer's
 * neighbour keeping (`src/peer/neighbours.ts`, modelled below). docs/gossip.md says what is what.
 */
import { CONFIG_DEFAULTS } from '../../src/defaults.js'
import { Announce, Presence, Replicate } from '../../src/gossip/messages.js'
import { PresenceCore } from '../../src/gossip/presence.js'
import { checkAnnounce, checkPresence, checkPresence2, checkReplicate, decodeChecked } from '../../src/gossip/validate.js'
import { AGENT_VERSION } from '../../src/version.js'
import { D, D_HI, D_LO, HEARTBEAT_MS, RouterState, gossipTargets, hasSeen, markSeen, sample } from './gossipsub.js'
import { scriptFaults } from './faults.js'
import { Replication } from './replication.js'
import { summarise } from './result.js'
import { Wheel } from './wheel.js'
import { ANNOUNCE, Counters, EPOCH, NEIGHBOUR, PRESENCE, REPLICATE, CONTENT, mulberry32 } from './types.js'
import type { Msg } from './gossipsub.js'
import type { SimInit, SimResult } from './types.js'
import type { WireSizes } from './wire.js'
import type { PeerId } from '@libp2p/interface'

const TOPICS = ['shoal/sim/presence', 'shoal/sim/announce', 'shoal/sim/replicate']
const TOPICS_V2 = ['shoal/sim/presence/2', 'shoal/sim/announce', 'shoal/sim/replicate']

interface Peer {
  i: number
  id: string
  peerId: PeerId
  core: PresenceCore | undefined
  up: boolean
  router: RouterState
  upFree: number
  addrs: string[]
  group: number
  wakeAt: number
  dialing: number
  /** Alive over the whole measurement window */
  steady: boolean
}

interface Ev {
  k: 'call' | 'direct' | 'msg' | 'ihave' | 'iwant' | 'wake' | 'heartbeat' | 'graft' | 'prune' | 'neighbours' | 'connect' | 'script'
  to: number
  from: number
  m?: Msg
  msgs?: Msg[]
  topic?: number
  fn?: () => void
  data?: Uint8Array
}

export type { Design, SimInit, SimResult, Spread } from './types.js'
export { spread } from './types.js'

/** Members that are not private are read by the run's scripts (`faults.ts`) and its summary (`result.ts`) */
export class Swarm {
  readonly init: Required<Omit<SimInit, 'announceAtMs' | 'crash' | 'churn' | 'partition' | 'maxRows' | 'replicas' | 'replicators' | 'fileBytes'>> & SimInit
  private readonly topics: string[]
  globalBeats = 0
  private readonly wire: WireSizes
  readonly random: () => number
  readonly wheel = new Wheel<Ev>()
  readonly peers: Peer[] = []
  private readonly index = new Map<string, number>()
  private readonly ids: PeerId[]
  readonly counters: Counters
  private readonly msgs: Msg[] = []
  readonly crashedAt = new Map<number, number>()
  readonly crashPairs = new Set<string>()
  readonly noticed: number[] = []
  events = 0
  healMs?: number
  readonly replication: Replication
  /** Replicators have promises to settle before the clock moves */
  private woken = false
  /** Peers that published: kept up, so their replications can finish */
  readonly publishers = new Set<number>()

  /** `ids`: one real peer id per peer that will ever exist (peers + joins) */
  constructor (init: SimInit, wire: WireSizes, ids: PeerId[]) {
    this.init = {
      intervalMs: CONFIG_DEFAULTS.gossip.presenceIntervalMs,
      latencyMs: 100,
      loss: 0.01,
      uplinkBytesPerSec: 10e6 / 8,
      minConnections: 8,
      seed: 1,
      maxWallMs: 10 * 60_000,
      design: 'today',
      budget: CONFIG_DEFAULTS.gossip.presenceBudget,
      ...init
    }
    this.topics = this.init.design === 'v2' ? TOPICS_V2 : TOPICS
    this.wire = wire
    this.ids = ids
    this.random = mulberry32(this.init.seed)
    if (ids.length < this.capacity) throw new Error(`${this.capacity} peer ids needed`)
    this.counters = new Counters(this.capacity)
    this.replication = new Replication({
      now: () => this.now(),
      epoch: EPOCH,
      at: (ms, fn) => {
        let live = true
        this.script(ms, () => { if (live) fn() })
        return () => { live = false }
      },
      publish: (i, m) => { if (this.peers[i].up) this.publish(this.peers[i], REPLICATE, Replicate.encode(m)) },
      deliver: (a, b, bytes, fn) => { this.send(a, b, bytes, CONTENT, { k: 'call', to: b, from: a, fn }) },
      connected: (a, b) => this.peers[a].router.conns.has(b),
      dial: (a, b, fn) => { this.script(this.now() + 4 * this.latency(a, b), () => { this.connect(a, b); fn() }) },
      index: (id) => this.index.get(id),
      id: (i) => this.peers[i].id,
      wake: () => { this.woken = true }
    })
  }

  /** Peers that will ever exist */
  get capacity (): number {
    return this.init.peers + (this.init.churn?.joins ?? 0)
  }

  now (): number { return this.wheel.now }

  private addPeer (): Peer {
    const i = this.peers.length
    const peerId = this.ids[i]
    const id = peerId.toString()
    const ip = `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`
    const p: Peer = { i, id, peerId, core: undefined, up: true, router: new RouterState(TOPICS.length), upFree: 0, addrs: [`/ip4/${ip}/tcp/4001`, `/ip4/${ip}/tcp/4002/ws`], group: 0, wakeAt: -1, dialing: 0, steady: false }
    p.core = new PresenceCore({
      self: id,
      intervalMs: this.init.intervalMs,
      ...(this.v2 ? { budget: this.init.budget, random: this.random } : {}),
      ...(this.init.maxRows != null ? { maxRows: this.init.maxRows } : {}),
      onChange: (m) => {
        if (m.state !== 'gone') return
        const j = this.index.get(m.peerId)
        const at = j != null ? this.crashedAt.get(j) : undefined
        if (at != null && this.crashPairs.delete(`${i}:${j}`)) this.noticed.push(this.now() - at)
      }
    })
    this.peers.push(p)
    this.index.set(id, i)
    return p
  }

  get v2 (): boolean { return this.init.design === 'v2' }

  /** Start a peer's timers at a random phase (peers' beats are not in step; v2's core draws its own) */
  private startPeer (p: Peer, phase: number, formed = false): void {
    // v2: a peer of a swarm already formed knows its size (as it would from its previous run)
    p.core?.start(EPOCH + this.now() + (this.v2 ? 0 : phase), this.v2 && formed ? this.init.peers : undefined)
    for (const q of p.router.conns) p.core?.connected(this.peers[q].id)
    this.scheduleWake(p)
    this.wheel.at(this.now() + Math.floor(this.random() * HEARTBEAT_MS), { k: 'heartbeat', to: p.i, from: p.i })
    this.wheel.at(this.now() + Math.floor(this.random() * this.init.intervalMs), { k: 'neighbours', to: p.i, from: p.i })
  }

  private scheduleWake (p: Peer): void {
    const due = (p.core?.nextDue(EPOCH + this.now()) ?? Infinity) - EPOCH
    if (!Number.isFinite(due)) return
    p.wakeAt = Math.max(this.now(), Math.ceil(due))
    this.wheel.at(p.wakeAt, { k: 'wake', to: p.i, from: p.i })
  }

  private reachable (a: number, b: number): boolean {
    return this.peers[b].up && this.peers[a].group === this.peers[b].group
  }

  private latency (a: number, b: number): number {
    const x = Math.min(a, b) * 73856093 ^ Math.max(a, b) * 19349663
    const u = ((Math.imul(x, 0x9E3779B1) >>> 0) / 4294967296)
    return this.init.latencyMs * (0.5 + u)
  }

  /** Send `bytes` from a to b: the uplink serialises, the link delays, a loss costs a retransmission */
  private send (a: number, b: number, bytes: number, topic: number, e: Ev): void {
    const p = this.peers[a]
    this.counters.bytesOut[topic][a] += bytes
    const depart = Math.max(this.now(), p.upFree) + bytes * 1000 / this.init.uplinkBytesPerSec
    p.upFree = depart
    if (!this.reachable(a, b)) return
    let arrive = depart + this.latency(a, b)
    if (this.random() < this.init.loss) arrive += 3 * this.latency(a, b)
    this.wheel.at(arrive, e)
  }

  connect (a: number, b: number): boolean {
    if (a === b || this.peers[a].router.conns.has(b) || !this.peers[a].up || !this.reachable(a, b)) return false
    this.peers[a].router.conns.add(b)
    this.peers[b].router.conns.add(a)
    this.linked(a, b, true)
    return true
  }

  /** Tell both peers' presence cores of a connection that opened or closed */
  private linked (a: number, b: number, open: boolean): void {
    for (const [x, y] of [[a, b], [b, a]]) {
      const p = this.peers[x]
      if (!p.up || p.core == null) continue
      if (open) p.core.connected(this.peers[y].id)
      else p.core.disconnected(this.peers[y].id)
      if (open && p.wakeAt >= 0) this.scheduleWake(p)
    }
  }

  disconnect (a: number, b: number): void {
    for (const [x, y] of [[a, b], [b, a]]) {
      const r = this.peers[x].router
      r.conns.delete(y)
      for (const m of r.mesh) m.delete(y)
    }
    this.linked(a, b, false)
  }

  private publish (p: Peer, topic: number, data: Uint8Array): Msg {
    const live = this.peers.filter(q => q.up).length
    const m: Msg = { topic, origin: p.i, data, size: this.wire.messageOverhead(this.topics[topic]) + data.byteLength, sent: this.now(), seen: new Uint8Array((this.capacity + 7) >> 3), reached: 0, target: Math.ceil(0.99 * (live - 1)) }
    markSeen(m, p.i)
    this.counters.signs[p.i]++
    p.router.remember(m)
    // gossipsub's flood publishing: the author sends to every connected subscriber
    for (const q of p.router.conns) this.send(p.i, q, m.size, topic, { k: 'msg', to: q, from: p.i, m })
    this.msgs.push(m)
    return m
  }

  private receive (to: number, from: number, m: Msg): void {
    const c = this.counters
    c.bytesIn[m.topic][to] += m.size
    c.copiesIn[to]++
    // the first design checks every copy's signature; v2 sets gossipsub's fast message id, so a
    // copy of a message already accepted is dropped first
    if (!this.v2) c.sigChecks[to]++
    if (hasSeen(m, to)) { c.dupsIn[to]++; return }
    if (this.v2) c.sigChecks[to]++
    markSeen(m, to)
    m.reached++
    if (m.at99 == null && m.reached >= m.target) m.at99 = this.now() - m.sent
    const p = this.peers[to]
    p.router.remember(m)
    const now = EPOCH + this.now()
    const author = this.peers[m.origin]
    if (m.topic === PRESENCE) {
      const r = decodeChecked(Presence, this.v2 ? checkPresence2 : checkPresence, m.data, author.peerId, now)
      if ('why' in r) return
      p.core?.receive(author.id, r.message, now)
      // the neighbour keeper dials members it hears of while it has too few connections
      if (p.router.conns.size + p.dialing < this.init.minConnections && !p.router.conns.has(m.origin)) this.dial(p, m.origin)
    } else if (m.topic === ANNOUNCE) {
      const r = decodeChecked(Announce, checkAnnounce, m.data, author.peerId, now)
      if ('why' in r) return
      this.replication.onAnnounce(to, { ...r.message, publisher: author.id })
    } else {
      const r = decodeChecked(Replicate, checkReplicate, m.data, author.peerId, now)
      if ('why' in r) return
      this.replication.onReplicate(to, author.id, r.message)
    }
    for (const q of p.router.mesh[m.topic]) {
      if (q !== from && q !== m.origin) this.send(to, q, m.size, m.topic, { k: 'msg', to: q, from: to, m })
    }
  }

  /** A dial takes two round trips (TCP, then noise and yamux) */
  private dial (p: Peer, q: number): void {
    if (p.dialing >= 2) return
    p.dialing++
    this.wheel.at(this.now() + 4 * this.latency(p.i, q), { k: 'connect', to: q, from: p.i })
  }

  private heartbeat (p: Peer): void {
    const r = p.router
    for (let t = 0; t < TOPICS.length; t++) {
      const mesh = r.mesh[t]
      if (mesh.size < D_LO) {
        const candidates = [...r.conns].filter(q => !mesh.has(q))
        for (const q of sample(candidates, D - mesh.size, this.random)) {
          mesh.add(q)
          this.send(p.i, q, this.wire.control(this.topics[t]), t, { k: 'graft', to: q, from: p.i, topic: t })
        }
      } else if (mesh.size > D_HI) {
        for (const q of sample([...mesh], mesh.size - D, this.random)) {
          mesh.delete(q)
          this.send(p.i, q, this.wire.control(this.topics[t]), t, { k: 'prune', to: q, from: p.i, topic: t })
        }
      }
      const ids = r.gossipIds(t)
      if (ids.length === 0) continue
      const nonMesh = [...r.conns].filter(q => !mesh.has(q))
      const bytes = this.wire.ihave(this.topics[t], ids.length)
      for (const q of sample(nonMesh, gossipTargets(nonMesh.length), this.random)) {
        this.send(p.i, q, bytes, t, { k: 'ihave', to: q, from: p.i, msgs: ids, topic: t })
      }
    }
    r.shift()
    this.wheel.at(this.now() + HEARTBEAT_MS, { k: 'heartbeat', to: p.i, from: p.i })
  }

  /**
   * The neighbour keeper, once a period (a model of `src/peer/neighbours.ts`): a connection to a
   * member the table calls gone is pinged and dropped when the ping goes unanswered; members that
   * went silent are dialled again (at most 4), which is what rejoins the halves of a healed
   * partition; a peer short of connections dials live members it knows.
   */
  private neighbours (p: Peer): void {
    const core = p.core
    if (core == null) return
    for (const q of [...p.router.conns]) {
      if (core.member(this.peers[q].id)?.state === 'gone' && !this.reachable(p.i, q)) this.disconnect(p.i, q)
    }
    const members = core.members(EPOCH + this.now())
    const silent = members.filter(m => m.state !== 'alive' && !p.router.conns.has(this.index.get(m.peerId) ?? -1))
    for (const m of sample(silent, 4, this.random)) {
      const q = this.index.get(m.peerId)
      if (q != null && this.reachable(p.i, q)) this.connect(p.i, q)
    }
    if (p.router.conns.size < this.init.minConnections) {
      const alive = members.filter(m => m.state === 'alive' && !m.self).map(m => this.index.get(m.peerId) ?? -1)
      for (const q of sample(alive, this.init.minConnections - p.router.conns.size, this.random)) this.dial(p, q)
    }
    this.wheel.at(this.now() + this.init.intervalMs, { k: 'neighbours', to: p.i, from: p.i })
  }

  private wake (p: Peer): void {
    const core = p.core
    if (core == null || p.wakeAt !== this.now()) return
    const now = EPOCH + this.now()
    const due = core.tick(now)
    const state = { addrs: p.addrs, version: AGENT_VERSION, free: 50e9 + p.i, uploads: p.i % 3, uploadSlots: 16, pins: 100 + p.i % 50 }
    if (due.neighbours.length > 0) {
      const data = Presence.encode(core.neighbourBeat(state, now))
      const { out, back } = this.wire.neighbourStream(data.byteLength)
      for (const id of due.neighbours) {
        const q = this.index.get(id)
        if (q == null || !p.router.conns.has(q)) continue
        this.send(p.i, q, out, NEIGHBOUR, { k: 'direct', to: q, from: p.i, data })
        // the stream's answer (multistream-select, window update, close) flows back
        this.counters.bytesIn[NEIGHBOUR][p.i] += back
        if (this.peers[q].up) this.counters.bytesOut[NEIGHBOUR][q] += back
      }
    }
    if (due.beat) {
      this.globalBeats++
      this.publish(p, PRESENCE, Presence.encode(core.beat(state, now)))
    }
    this.scheduleWake(p)
  }

  /** A neighbour beat arrives over its connection: checked as the daemon checks it, then recorded */
  private direct (to: Peer, from: number, data: Uint8Array): void {
    this.counters.bytesIn[NEIGHBOUR][to.i] += this.wire.neighbourStream(data.byteLength).out
    const author = this.peers[from]
    const now = EPOCH + this.now()
    const r = decodeChecked(Presence, checkPresence2, data, author.peerId, now)
    if ('why' in r) return
    to.core?.receive(author.id, r.message, now, 'neighbour')
  }

  private run1 (e: Ev): void {
    this.events++
    if (e.k === 'script') { e.fn?.(); return }
    const p = this.peers[e.to]
    if (!p.up) return
    if (e.k === 'call') { e.fn?.(); return }
    switch (e.k) {
      case 'direct':
      case 'msg':
      case 'ihave':
      case 'iwant':
      case 'graft':
      case 'prune':
        // a message on a connection that has closed is lost with it
        if (!p.router.conns.has(e.from)) return
    }
    switch (e.k) {
      case 'msg':
        if (e.m != null) this.receive(e.to, e.from, e.m)
        for (const m of e.msgs ?? []) this.receive(e.to, e.from, m)
        break
      case 'ihave': {
        const t = e.topic ?? 0
        this.counters.bytesIn[t][e.to] += this.wire.ihave(this.topics[t], e.msgs?.length ?? 0)
        const want = (e.msgs ?? []).filter(m => !hasSeen(m, e.to))
        if (want.length > 0) this.send(e.to, e.from, this.wire.iwant(want.length), t, { k: 'iwant', to: e.from, from: e.to, msgs: want, topic: t })
        break
      }
      case 'iwant': {
        const t = e.topic ?? 0
        this.counters.bytesIn[t][e.to] += this.wire.iwant(e.msgs?.length ?? 0)
        const msgs = e.msgs ?? []
        const bytes = msgs.reduce((n, m) => n + m.size, 0)
        this.send(e.to, e.from, bytes, t, { k: 'msg', to: e.from, from: e.to, msgs })
        break
      }
      case 'graft':
        this.counters.bytesIn[e.topic ?? 0][e.to] += this.wire.control(this.topics[e.topic ?? 0])
        p.router.mesh[e.topic ?? 0].add(e.from)
        break
      case 'prune':
        this.counters.bytesIn[e.topic ?? 0][e.to] += this.wire.control(this.topics[e.topic ?? 0])
        p.router.mesh[e.topic ?? 0].delete(e.from)
        break
      case 'direct': if (e.data != null) this.direct(p, e.from, e.data); break
      case 'wake': this.wake(p); break
      case 'heartbeat': this.heartbeat(p); break
      case 'neighbours': this.neighbours(p); break
      case 'connect': {
        // e.from dialled e.to
        const dialler = this.peers[e.from]
        dialler.dialing = Math.max(0, dialler.dialing - 1)
        if (dialler.up) this.connect(e.from, e.to)
        break
      }
    }
  }

  script (atMs: number, fn: () => void): void {
    this.wheel.at(atMs, { k: 'script', to: -1, from: -1, fn })
  }

  live (): Peer[] {
    return this.peers.filter(p => p.up)
  }

  /** Crash or stop a peer; a clean stop closes its connections, a crash leaves them open */
  down (p: Peer, clean: boolean): void {
    p.up = false
    p.core?.stop()
    this.replication.stop(p.i)
    p.steady = false
    if (clean) for (const q of [...p.router.conns]) this.disconnect(p.i, q)
  }

  join (): void {
    const p = this.addPeer()
    const live = this.live().filter(q => q !== p)
    // a new peer dials its bootstrap peers, then the members it hears of
    for (const q of sample(live, 2, this.random)) this.connect(p.i, q.i)
    this.startPeer(p, Math.floor(this.random() * 100))
  }

  /** Run the scenario; bounded by the simulated duration and `maxWallMs` */
  async run (): Promise<SimResult> {
    const init = this.init
    const started = Date.now()
    for (let i = 0; i < init.peers; i++) this.addPeer()
    // a swarm already formed: each peer has dialled random others until it has minConnections
    for (const p of this.peers) {
      for (let tries = 0; p.router.conns.size < init.minConnections && tries < 4 * init.minConnections; tries++) {
        this.connect(p.i, Math.floor(this.random() * init.peers))
      }
    }
    for (const p of this.peers) this.startPeer(p, Math.floor(this.random() * init.intervalMs), true)
    for (const p of sample(this.peers, init.replicators ?? 0, this.random)) this.replication.enable(p.i)
    this.script(init.measureFromMs, () => {
      for (const p of this.peers) p.steady = p.up
      const c = this.counters
      for (const a of [...c.bytesIn, ...c.bytesOut, c.copiesIn, c.dupsIn, c.sigChecks, c.signs]) a.fill(0)
      this.globalBeats = 0
    })
    const announced: Msg[] = []
    let announceN = 0
    for (const at of init.announceAtMs ?? []) {
      this.script(at, () => {
        const live = this.live()
        const p = live[Math.floor(this.random() * live.length)]
        const a: Announce = { cid: this.replication.nextCid(), name: `file-${announceN++}.bin`, size: init.fileBytes ?? 1 << 20, time: EPOCH + this.now(), tags: ['sim'], replicas: init.replicas ?? 0 }
        this.publishers.add(p.i)
        this.replication.request(p.i, { ...a, publisher: p.id })
        announced.push(this.publish(p, ANNOUNCE, Announce.encode(a)))
      })
    }
    scriptFaults(this)
    let truncated = false
    while (this.wheel.now < init.durationMs) {
      this.wheel.step((e) => { this.run1(e) })
      if (this.woken) {
        // the replicators' promises settle (their continuations run) before the clock moves on
        this.woken = false
        await new Promise(resolve => setImmediate(resolve))
      }
      if ((this.wheel.now & 1023) === 0 && Date.now() - started > init.maxWallMs) { truncated = true; break }
    }
    return summarise(this, started, truncated, announced)
  }

  /** Let go of every peer's presence core, so a caller can measure the memory they held */
  dropCores (): number {
    let n = 0
    for (const p of this.peers) {
      if (p.core != null && p.up) n++
      p.core = undefined
    }
    return n
  }
}
