/**
 * Gossip: the swarm's gossipsub topics and neighbour beats (docs/gossip.md).
 * - `shoal/<swarm>/presence/2`: every member's global beat, at a period stretched to the swarm's
 *   budget; with the neighbour beats (`neighbour.ts`), the membership table
 * - `shoal/<swarm>/presence`: the first version's beats, heard from its peers (and sent to them while any are about)
 * - `shoal/<swarm>/announce`: what was just published
 * - `shoal/<swarm>/replicate`: volunteers, assignments and holders of announced content
 * Every message is signed by its author and checked by the topic's validator before it is
 * delivered or forwarded.
 */
import { pushable } from 'it-pushable'
import { TypedEventEmitter } from 'main-event'
import { MAX_GOSSIP_DATA, WATCH_BUFFER } from '../constants.js'
import { CONFIG_DEFAULTS } from '../defaults.js'
import { AGENT_VERSION } from '../version.js'
import { Announce, Presence, Replicate } from './messages.js'
import { PresenceCore } from './presence.js'
import { Replicator } from './replicate.js'
import { NeighbourBeats, neighbourProtocol } from './neighbour.js'
import { accept, checkAnnounce, checkPresence, checkPresence2, checkReplicate, decodeChecked, validator } from './validate.js'
import type { Member } from './membership.js'
import type { ReplicatePolicy } from './replicate.js'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { Pushable } from 'it-pushable'
import type { TopicScoreParams } from '@libp2p/gossipsub/score'
import type { NeighbourHost } from './neighbour.js'
import type { ComponentLogger, Libp2p, PeerId, PeerId as Id } from '@libp2p/interface'
import type { TypedEventTarget } from 'main-event'

export type { Member, MemberState } from './membership.js'
export { loadRank } from './membership.js'
export type { ReplicatePolicy } from './replicate.js'

/** Content news, as `watch` gives it */
export interface Announcement {
  cid: string
  name: string
  size: number
  /** Peer id of the author (the signer of the message) */
  publisher: string
  /** ms since the epoch, by the publisher's clock */
  time: number
  tags: string[]
  /** Copies the publisher asked for; 0 for none */
  replicas: number
}

export interface GossipComponents {
  pubsub: Pick<GossipSub, 'subscribe' | 'unsubscribe' | 'publish' | 'topicValidators' | 'addEventListener' | 'removeEventListener'>
  peerId: PeerId
  logger: ComponentLogger
  /** Streams to connected peers for neighbour beats, and connection events */
  streams: NeighbourHost & Pick<Libp2p, 'getPeers' | 'addEventListener' | 'removeEventListener'>
  /** Addresses this peer can be dialled on, for its beat */
  addresses(): string[]
  /** This peer's room and load, for its beat */
  load(): Promise<{ free: number, uploads: number, uploadSlots: number, pins: number }>
  /** Bytes of replicas this peer holds */
  replicated(): Promise<number>
  /**
   * Fetch, pin and provide announced content (replication); `publisher` is the publisher's row in
   * the membership table, when it has one
   */
  hold(announcement: Announcement, publisher: Member | undefined, whole?: () => void): Promise<void>
}

export interface GossipEvents {
  /** A member's beat arrived, with the addresses it can be dialled on */
  'member:beat': CustomEvent<{ peerId: string, addresses: string[] }>
}

export interface GossipInit {
  swarm: string
  /**
   * Presence heartbeat period
   * @default 10 seconds
   */
  presenceIntervalMs?: number
  /**
   * Global beats a period the whole swarm sends (each peer receives): each peer's global period
   * is max(1, swarm size / budget) periods; 0 for the first design (every beat global, every period)
   * @default 5
   */
  presenceBudget?: number
  /**
   * What this peer replicates
   * @default off
   */
  replicate?: ReplicatePolicy
}

export interface GossipStats {
  members: number
  /** The swarm's size as this peer estimates it */
  estimate: number
  /** Whether `members()` is a part of the swarm: listed members are what this peer has heard of */
  partial: boolean
  announcements: number
  rejected: number
}

export interface Gossip extends TypedEventTarget<GossipEvents> {
  start(): Promise<void>
  stop(): Promise<void>
  /** The membership table, this peer included */
  members(): Member[]
  member(peerId: string): Member | undefined
  /** Announce content; with `replicas` > 0 also collect volunteers and assign them (in the background) */
  announce(a: Omit<Announcement, 'publisher' | 'time'>): Promise<{ recipients: number, assigned?: Promise<string[]> }>
  /** Announcements as they arrive (from others), until the signal aborts; a slow reader loses the oldest */
  watch(signal?: AbortSignal): AsyncGenerator<Announcement>
  /** Peers heard to hold a CID in full (replicas and fetchers that said so) */
  holders(cid: string): Array<{ peerId: string, heardAt: number }>
  stats(): GossipStats
}

export interface Topics {
  presence: string
  presence2: string
  announce: string
  replicate: string
}

export function topicsOf (swarm: string): Topics {
  return { presence: `shoal/${swarm}/presence`, presence2: `shoal/${swarm}/presence/2`, announce: `shoal/${swarm}/announce`, replicate: `shoal/${swarm}/replicate` }
}

/**
 * Score parameters for the swarm's topics. The library's defaults leave per-topic scoring off;
 * here an invalid message costs its sender heavily (quadratic in the count, so a few cross the
 * gossip threshold and more the graylist), first deliveries earn a little, and mesh delivery
 * rates are not scored because announcements are rare by nature.
 */
export function topicScoreParams (swarm: string): Record<string, Partial<TopicScoreParams>> {
  const t = topicsOf(swarm)
  const base: Partial<TopicScoreParams> = {
    timeInMeshWeight: 0.01,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 100,
    firstMessageDeliveriesWeight: 0.5,
    firstMessageDeliveriesDecay: 0.9,
    firstMessageDeliveriesCap: 20,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: -20,
    invalidMessageDeliveriesDecay: 0.99
  }
  return {
    [t.presence]: { ...base, topicWeight: 0.5 },
    [t.presence2]: { ...base, topicWeight: 0.5 },
    [t.announce]: { ...base, topicWeight: 1 },
    [t.replicate]: { ...base, topicWeight: 1 },
    // the names topic (src/naming/, docs/names.md): a forged or replayed record costs as much
    [`shoal/${swarm}/names`]: { ...base, topicWeight: 1 }
  }
}

/** Bounds on one decoded gossipsub RPC (the library's defaults are far looser) */
export const DECODE_RPC_LIMITS = {
  maxSubscriptions: 64,
  maxMessages: 64,
  maxIhaveMessageIDs: 1000,
  maxIwantMessageIDs: 1000,
  maxIdontwantMessageIDs: 1000,
  maxControlMessages: 64,
  maxPeerInfos: 32
}

export const MAX_INBOUND_DATA_LENGTH = MAX_GOSSIP_DATA

class SwarmGossip extends TypedEventEmitter<GossipEvents> implements Gossip {
  private readonly components: GossipComponents
  private readonly topics: Topics
  private readonly interval: number
  private readonly presence: PresenceCore
  private readonly neighbours: NeighbourBeats
  private readonly replicator: Replicator
  private readonly watchers = new Set<Pushable<Announcement>>()
  private readonly counters = { announcements: 0, rejected: 0 }
  private timer?: ReturnType<typeof setTimeout>
  private readonly log
  private started = false
  private readonly onMessage = (evt: CustomEvent<Message>): void => { this.handle(evt.detail) }
  private readonly onConnect = (evt: CustomEvent<Id>): void => { this.presence.connected(evt.detail.toString()); this.rewake() }
  private readonly onDisconnect = (evt: CustomEvent<Id>): void => {
    this.presence.disconnected(evt.detail.toString())
    this.neighbours.drop(evt.detail.toString())
  }

  constructor (components: GossipComponents, init: GossipInit) {
    super()
    this.components = components
    this.topics = topicsOf(init.swarm)
    this.interval = init.presenceIntervalMs ?? CONFIG_DEFAULTS.gossip.presenceIntervalMs
    this.log = components.logger.forComponent('shoal:gossip')
    const self = components.peerId.toString()
    const budget = init.presenceBudget ?? CONFIG_DEFAULTS.gossip.presenceBudget
    this.presence = new PresenceCore({
      self,
      intervalMs: this.interval,
      ...(budget > 0 ? { budget } : {}),
      onChange: (m, previous) => { this.log('member %s: %s -> %s', m.peerId, previous ?? 'new', m.state) }
    })
    this.neighbours = new NeighbourBeats(components.streams, this.log, {
      protocol: neighbourProtocol(init.swarm),
      timeoutMs: Math.max(this.interval, 1000),
      onBeat: (from, data) => { this.onNeighbourBeat(from, data) }
    })
    this.replicator = new Replicator({
      self,
      policy: init.replicate ?? { enabled: false, tags: [], maxFileSize: 0, maxTotalBytes: 0 },
      log: components.logger.forComponent('shoal:gossip:replicate'),
      send: async (m) => { await this.send(this.topics.replicate, Replicate.encode(m)) },
      free: async () => (await components.load()).free,
      replicated: async () => await components.replicated(),
      hold: async (a, whole) => components.hold(a, this.presence.member(a.publisher), whole)
    })
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    const { pubsub } = this.components
    const onReject = (topic: string) => (from: PeerId, why: string): void => {
      this.counters.rejected++
      this.log('rejected a message on %s from %p: %s', topic, from, why)
    }
    pubsub.topicValidators.set(this.topics.presence, validator(Presence, checkPresence, onReject(this.topics.presence)))
    pubsub.topicValidators.set(this.topics.presence2, validator(Presence, checkPresence2, onReject(this.topics.presence2)))
    pubsub.topicValidators.set(this.topics.announce, validator(Announce, checkAnnounce, onReject(this.topics.announce)))
    pubsub.topicValidators.set(this.topics.replicate, validator(Replicate, checkReplicate, onReject(this.topics.replicate)))
    pubsub.addEventListener('message', this.onMessage)
    for (const t of Object.values(this.topics)) pubsub.subscribe(t)
    await this.neighbours.start()
    const { streams } = this.components
    streams.addEventListener('peer:connect', this.onConnect)
    streams.addEventListener('peer:disconnect', this.onDisconnect)
    this.presence.start(Date.now())
    for (const p of streams.getPeers()) this.presence.connected(p.toString())
    // this peer lists itself from the start, though its first global beat may be a while off
    const load = await this.components.load().catch(() => ({ free: 0, uploads: 0, uploadSlots: 0, pins: 0 }))
    this.presence.note({ addrs: this.components.addresses(), version: AGENT_VERSION, ...load }, Date.now())
    this.wake()
  }

  /** Run the presence core's timers that are due, and sleep until its next one */
  private wake (): void {
    if (!this.started) return
    clearTimeout(this.timer)
    const now = Date.now()
    const due = this.presence.tick(now)
    if (due.beat || due.neighbours.length > 0) void this.beat(due)
    this.timer = setTimeout(() => { this.wake() }, Math.min(2 ** 31 - 1, Math.max(0, this.presence.nextDue(Date.now()) - Date.now())))
  }

  /** Something is due at once (a new neighbour's first beat) */
  private rewake (): void {
    if (this.started && this.presence.nextDue(Date.now()) <= Date.now()) setImmediate(() => { this.wake() })
  }

  private onNeighbourBeat (from: PeerId, data: Uint8Array): void {
    const r = decodeChecked(Presence, checkPresence2, data, from, Date.now())
    if ('why' in r) {
      this.counters.rejected++
      this.log('rejected a neighbour beat from %p: %s', from, r.why)
      return
    }
    const id = from.toString()
    this.presence.receive(id, r.message, Date.now(), 'neighbour')
    this.safeDispatchEvent('member:beat', { detail: { peerId: id, addresses: r.message.addrs } })
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    clearTimeout(this.timer)
    this.presence.stop()
    this.replicator.stop()
    const { pubsub, streams } = this.components
    streams.removeEventListener('peer:connect', this.onConnect)
    streams.removeEventListener('peer:disconnect', this.onDisconnect)
    await this.neighbours.stop().catch(() => {})
    pubsub.removeEventListener('message', this.onMessage)
    for (const t of Object.values(this.topics)) {
      pubsub.unsubscribe(t)
      pubsub.topicValidators.delete(t)
    }
    for (const w of this.watchers) w.end()
    this.watchers.clear()
  }

  private async send (topic: string, data: Uint8Array): Promise<number> {
    const r = await this.components.pubsub.publish(topic, data)
    return r.recipients.length
  }

  /** The beats that are due: global (on v2, and on the first version's topic while its peers are about) and to neighbours */
  private async beat (due: { beat: boolean, neighbours: string[], legacy: boolean }): Promise<void> {
    try {
      const load = await this.components.load()
      const state = { addrs: this.components.addresses(), version: AGENT_VERSION, ...load }
      if (due.neighbours.length > 0) {
        const data = Presence.encode(this.presence.neighbourBeat(state, Date.now()))
        await Promise.all(due.neighbours.map(async (id) => {
          const r = await this.neighbours.send(id, data).catch((err) => { this.log('neighbour beat to %s failed: %s', id, err.message); return 'failed' })
          // no beats to a peer that does not take them, until it connects again
          if (r === 'unsupported' || r === 'gone') this.presence.disconnected(id)
        }))
      }
      if (!due.beat) return
      const presence = this.presence.beat(state, Date.now())
      if (!this.started) return
      const data = Presence.encode(presence)
      if (this.presence.budget == null) {
        await this.send(this.topics.presence, data)
        return
      }
      await this.send(this.topics.presence2, data)
      if (due.legacy) await this.send(this.topics.presence, data)
    } catch (err: any) {
      this.log('could not send a beat: %s', err.message)
    }
  }

  private handle (msg: Message): void {
    // the validators have accepted these already; decoding again is cheap at 4 KiB
    if (msg.topic === this.topics.presence || msg.topic === this.topics.presence2) {
      const v2 = msg.topic === this.topics.presence2
      const ok = accept(Presence, v2 ? checkPresence2 : checkPresence, msg)
      if (ok == null) return
      const from = ok.from.toString()
      if (!this.presence.receive(from, ok.message, Date.now(), v2 ? 'global' : 'legacy')) return
      this.safeDispatchEvent('member:beat', { detail: { peerId: from, addresses: ok.message.addrs } })
    } else if (msg.topic === this.topics.announce) {
      const ok = accept(Announce, checkAnnounce, msg)
      if (ok == null) return
      const a: Announcement = { ...ok.message, publisher: ok.from.toString() }
      this.counters.announcements++
      for (const w of this.watchers) {
        // a reader that falls behind loses the oldest news, not the daemon its memory
        if (w.readableLength >= WATCH_BUFFER) continue
        w.push(a)
      }
      void this.replicator.onAnnounce(a).catch((err) => { this.log('replication of %s failed: %s', a.cid, err.message) })
    } else if (msg.topic === this.topics.replicate) {
      const ok = accept(Replicate, checkReplicate, msg)
      if (ok != null) void this.replicator.onReplicate(ok.from.toString(), ok.message).catch((err) => { this.log('replicate message failed: %s', err.message) })
    }
  }

  members (): Member[] {
    return this.presence.members(Date.now())
  }

  member (peerId: string): Member | undefined {
    return this.presence.member(peerId)
  }

  async announce (a: Omit<Announcement, 'publisher' | 'time'>): Promise<{ recipients: number, assigned?: Promise<string[]> }> {
    const message: Announce = { cid: a.cid, name: a.name, size: a.size, time: Date.now(), tags: a.tags, replicas: a.replicas }
    // the publisher checks its own message as every receiver will
    const why = checkAnnounce(message, this.components.peerId, Date.now())
    if (why != null) throw new Error(`announcement is invalid: ${why}`)
    const full: Announcement = { ...message, publisher: this.components.peerId.toString() }
    // volunteers answer the announcement, so listen for them before it goes out
    const assigned = a.replicas > 0 ? this.replicator.request(full) : undefined
    assigned?.catch(() => {})
    const recipients = await this.send(this.topics.announce, Announce.encode(message))
    return { recipients, ...(assigned != null ? { assigned } : {}) }
  }

  async * watch (signal?: AbortSignal): AsyncGenerator<Announcement> {
    const queue = pushable<Announcement>({ objectMode: true })
    this.watchers.add(queue)
    const onAbort = (): void => { queue.end() }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      yield * queue
    } finally {
      signal?.removeEventListener('abort', onAbort)
      this.watchers.delete(queue)
    }
  }

  holders (cid: string): Array<{ peerId: string, heardAt: number }> {
    return this.replicator.holdersOf(cid)
  }

  stats (): GossipStats {
    const view = this.presence.view(Date.now())
    return { members: this.presence.size, estimate: view.estimate, partial: view.partial, ...this.counters }
  }
}

export function createGossip (components: GossipComponents, init: GossipInit): Gossip {
  return new SwarmGossip(components, init)
}
