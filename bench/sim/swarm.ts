/**
 * Many shoal peers in one process on a virtual clock. Each peer runs shoal's own presence core
 * (`src/gossip/presence.ts`: membership table, beat and sweep timers) and shoal's own validation
 * (`decodeChecked` with the topic's checks, on every first copy); what carries the messages is a
 * model: gossipsub (`gossipsub.ts`), links (latency, loss, uplink bandwidth), and the peer's
 * neighbour keeping (`src/peer/neighbours.ts`, modelled below). docs/gossip.md says what is what.
 */
import { CONFIG_DEFAULTS } from '../../src/defaults.js'
import { Announce, Presence } from '../../src/gossip/messages.js'
import { PresenceCore } from '../../src/gossip/presence.js'
import { checkAnnounce, checkPresence, checkPresence2, decodeChecked } from '../../src/gossip/validate.js'
import { AGENT_VERSION } from '../../src/version.js'
import { D, D_HI, D_LO, HEARTBEAT_MS, RouterState, gossipTargets, hasSeen, markSeen, sample } from './gossipsub.js'
import { Wheel } from './wheel.js'
import { Counters, mulberry32, spread } from './types.js'
import type { Msg } from './gossipsub.js'
import type { Design, SimInit, SimResult, Spread } from './types.js'
import type { WireSizes } from './wire.js'
import type { PeerId } from '@libp2p/interface'

/** Virtual time 0 is this wall-clock time, so timestamps encode at their real length */
const EPOCH = 1_767_225_600_000
const PRESENCE = 0
const ANNOUNCE = 1
/** Neighbour beats: counted with the topics' bytes, but not on gossipsub */
const NEIGHBOUR = 2
const TOPICS = ['shoal/sim/presence', 'shoal/sim/announce']
const TOPICS_V2 = ['shoal/sim/presence/2', 'shoal/sim/announce']

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
  k: 'direct' | 'msg' | 'ihave' | 'iwant' | 'wake' | 'heartbeat' | 'graft' | 'prune' | 'neighbours' | 'connect' | 'script'
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

export class Swarm {
  private readonly init: Required<Omit<SimInit, 'announceAtMs' | 'crash' | 'churn' | 'partition' | 'maxRows'>> & SimInit
  private readonly topics: string[]
  private globalBeats = 0
  private readonly wire: WireSizes
  private readonly random: () => number
  private readonly wheel = new Wheel<Ev>()
  readonly peers: Peer[] = []
  private readonly index = new Map<string, number>()
  private readonly ids: PeerId[]
  private readonly counters: Counters
  private readonly msgs: Msg[] = []
  private readonly crashedAt = new Map<number, number>()
  private readonly crashPairs = new Set<string>()
  private readonly noticed: number[] = []
  private events = 0
  private healMs?: number

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
  }

  /** Peers that will ever exist */
  get capacity (): number {
    return this.init.peers + (this.init.churn?.joins ?? 0)
  }

  private now (): number { return this.wheel.now }

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

  private get v2 (): boolean { return this.init.design === 'v2' }

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
    } else {
      const r = decodeChecked(Announce, checkAnnounce, m.data, author.peerId, now)
      if ('why' in r) return
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

  private script (atMs: number, fn: () => void): void {
    this.wheel.at(atMs, { k: 'script', to: -1, from: -1, fn })
  }

  private live (): Peer[] {
    return this.peers.filter(p => p.up)
  }

  /** Crash or stop a peer; a clean stop closes its connections, a crash leaves them open */
  private down (p: Peer, clean: boolean): void {
    p.up = false
    p.core?.stop()
    p.steady = false
    if (clean) for (const q of [...p.router.conns]) this.disconnect(p.i, q)
  }

  private join (): void {
    const p = this.addPeer()
    const live = this.live().filter(q => q !== p)
    // a new peer dials its bootstrap peers, then the members it hears of
    for (const q of sample(live, 2, this.random)) this.connect(p.i, q.i)
    this.startPeer(p, Math.floor(this.random() * 100))
  }

  /** Run the scenario; bounded by the simulated duration and `maxWallMs` */
  run (): SimResult {
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
        const a: Announce = { cid: 'bafkqaaa', name: `file-${announceN++}.bin`, size: 1 << 20, time: EPOCH + this.now(), tags: ['sim'], replicas: 0 }
        announced.push(this.publish(p, ANNOUNCE, Announce.encode(a)))
      })
    }
    if (init.crash != null) {
      const crash = init.crash
      this.script(crash.atMs, () => {
        const victims = sample(this.live(), crash.count, this.random)
        for (const v of victims) this.crashedAt.set(v.i, this.now())
        for (const v of victims) this.down(v, false)
        for (const o of this.live()) {
          for (const v of victims) {
            // v2 answers for the crashed peer's neighbours (directly connected); the first design for every peer
            if (this.v2 && !o.router.conns.has(v.i)) continue
            const s = o.core?.member(v.id)?.state
            if (s != null && s !== 'gone') this.crashPairs.add(`${o.i}:${v.i}`)
          }
        }
      })
    }
    if (init.churn != null) {
      const { fromMs, toMs, leaves, joins } = init.churn
      for (let k = 0; k < leaves; k++) {
        this.script(fromMs + (toMs - fromMs) * k / leaves, () => {
          const live = this.live().filter(p => !this.crashedAt.has(p.i))
          this.down(live[Math.floor(this.random() * live.length)], true)
        })
      }
      for (let k = 0; k < joins; k++) this.script(fromMs + (toMs - fromMs) * (k + 0.5) / joins, () => { this.join() })
    }
    if (init.partition != null) {
      const { atMs, healAtMs, fraction } = init.partition
      this.script(atMs, () => { for (const p of sample(this.live(), Math.round(fraction * this.live().length), this.random)) p.group = 1 })
      this.script(healAtMs, () => {
        for (const p of this.peers) p.group = 0
        const observers = sample(this.live(), 50, this.random)
        const check = (): void => {
          const live = this.live()
          // the first design lists every live peer; v2 lists those it has heard of, and must call each of them alive
          const whole = observers.every(o => !o.up || live.every(q => {
            const state = o.core?.member(q.id)?.state
            return state === 'alive' || (this.v2 && state == null)
          }))
          if (whole) this.healMs = this.now() - healAtMs
          else if (this.now() + 500 < init.durationMs) this.script(this.now() + 500, check)
        }
        check()
      })
    }
    let truncated = false
    while (this.wheel.now < init.durationMs) {
      this.wheel.step((e) => { this.run1(e) })
      if ((this.wheel.now & 1023) === 0 && Date.now() - started > init.maxWallMs) { truncated = true; break }
    }
    return this.result(started, truncated, announced)
  }

  private result (started: number, truncated: boolean, announced: Msg[]): SimResult {
    // pairs whose observer left before it could notice do not count
    const pairs = this.noticed.length + [...this.crashPairs].filter(k => this.peers[Number(k.split(':')[0])].up).length
    // a run cut short before its window opened has no rates to give
    const secs = this.wheel.now > this.init.measureFromMs ? (this.wheel.now - this.init.measureFromMs) / 1000 : NaN
    const steady = this.peers.filter(p => p.steady)
    const c = this.counters
    const per = (f: (i: number) => number): Spread => spread(steady.map(p => f(p.i) / secs))
    const sum = (a: Float64Array[], i: number): number => a.reduce((n, x) => n + x[i], 0)
    const copies = steady.reduce((n, p) => n + c.copiesIn[p.i], 0)
    const dups = steady.reduce((n, p) => n + c.dupsIn[p.i], 0)
    const noticed = [...this.noticed].sort((a, b) => a - b)
    return {
      peers: this.init.peers,
      steadyPeers: steady.length,
      simulatedMs: this.wheel.now,
      wallMs: Date.now() - started,
      events: this.events,
      truncated,
      design: this.init.design,
      bytesInPerSec: { total: per(i => sum(c.bytesIn, i)), presence: per(i => c.bytesIn[PRESENCE][i] + c.bytesIn[NEIGHBOUR][i]), announce: per(i => c.bytesIn[ANNOUNCE][i]), neighbour: per(i => c.bytesIn[NEIGHBOUR][i]) },
      bytesOutPerSec: { total: per(i => sum(c.bytesOut, i)), presence: per(i => c.bytesOut[PRESENCE][i] + c.bytesOut[NEIGHBOUR][i]), announce: per(i => c.bytesOut[ANNOUNCE][i]), neighbour: per(i => c.bytesOut[NEIGHBOUR][i]) },
      globalBeatsPerSec: this.globalBeats / secs,
      ...(this.v2 ? { estimate: spread(steady.map(p => p.core?.swarmSize(EPOCH + this.wheel.now) ?? 0)) } : {}),
      copiesInPerSec: per(i => c.copiesIn[i]),
      duplicateFraction: copies > 0 ? dups / copies : 0,
      sigChecksPerSec: per(i => c.sigChecks[i]),
      membershipRows: spread(steady.map(p => p.core?.rows ?? 0)),
      announce99Ms: announced.map(m => m.at99),
      ...(this.init.crash != null ? { crash: { crashed: this.crashedAt.size, pairs, noticed: noticed.length, p50Ms: noticed[Math.floor(noticed.length / 2)] ?? NaN, maxMs: noticed[noticed.length - 1] ?? NaN } } : {}),
      ...(this.healMs != null ? { healMs: this.healMs } : {})
    }
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
