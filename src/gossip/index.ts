/**
 * Gossip: the swarm's three gossipsub topics (docs/gossip.md).
 * - `shoal/<swarm>/presence`: every member's heartbeat, from which each peer keeps a membership table
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
import { accept, checkAnnounce, checkPresence, checkReplicate, validator } from './validate.js'
import type { Member } from './membership.js'
import type { ReplicatePolicy } from './replicate.js'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { Pushable } from 'it-pushable'
import type { TopicScoreParams } from '@libp2p/gossipsub/score'
import type { ComponentLogger, PeerId } from '@libp2p/interface'
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
  hold(announcement: Announcement, publisher: Member | undefined): Promise<void>
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
   * What this peer replicates
   * @default off
   */
  replicate?: ReplicatePolicy
}

export interface GossipStats {
  members: number
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
  announce: string
  replicate: string
}

export function topicsOf (swarm: string): Topics {
  return { presence: `shoal/${swarm}/presence`, announce: `shoal/${swarm}/announce`, replicate: `shoal/${swarm}/replicate` }
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
  private readonly replicator: Replicator
  private readonly watchers = new Set<Pushable<Announcement>>()
  private readonly counters = { announcements: 0, rejected: 0 }
  private timer?: ReturnType<typeof setTimeout>
  private readonly log
  private started = false
  private readonly onMessage = (evt: CustomEvent<Message>): void => { this.handle(evt.detail) }

  constructor (components: GossipComponents, init: GossipInit) {
    super()
    this.components = components
    this.topics = topicsOf(init.swarm)
    this.interval = init.presenceIntervalMs ?? CONFIG_DEFAULTS.gossip.presenceIntervalMs
    this.log = components.logger.forComponent('shoal:gossip')
    const self = components.peerId.toString()
    this.presence = new PresenceCore({
      self,
      intervalMs: this.interval,
      onChange: (m, previous) => { this.log('member %s: %s -> %s', m.peerId, previous ?? 'new', m.state) }
    })
    this.replicator = new Replicator({
      self,
      policy: init.replicate ?? { enabled: false, tags: [], maxFileSize: 0, maxTotalBytes: 0 },
      log: components.logger.forComponent('shoal:gossip:replicate'),
      send: async (m) => { await this.send(this.topics.replicate, Replicate.encode(m)) },
      room: async () => ({ free: (await components.load()).free, replicated: await components.replicated() }),
      hold: async (a) => components.hold(a, this.presence.member(a.publisher))
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
    pubsub.topicValidators.set(this.topics.announce, validator(Announce, checkAnnounce, onReject(this.topics.announce)))
    pubsub.topicValidators.set(this.topics.replicate, validator(Replicate, checkReplicate, onReject(this.topics.replicate)))
    pubsub.addEventListener('message', this.onMessage)
    for (const t of Object.values(this.topics)) pubsub.subscribe(t)
    this.presence.start(Date.now())
    this.wake()
  }

  /** Run the presence core's timers that are due, and sleep until its next one */
  private wake (): void {
    if (!this.started) return
    const now = Date.now()
    if (this.presence.tick(now).beat) void this.beat()
    this.timer = setTimeout(() => { this.wake() }, Math.max(0, this.presence.nextDue() - Date.now()))
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    clearTimeout(this.timer)
    this.presence.stop()
    this.replicator.stop()
    const { pubsub } = this.components
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

  private async beat (): Promise<void> {
    try {
      const load = await this.components.load()
      const presence = this.presence.beat({ addrs: this.components.addresses(), version: AGENT_VERSION, ...load }, Date.now())
      if (this.started) await this.send(this.topics.presence, Presence.encode(presence))
    } catch (err: any) {
      this.log('could not send a beat: %s', err.message)
    }
  }

  private handle (msg: Message): void {
    // the validators have accepted these already; decoding again is cheap at 4 KiB
    if (msg.topic === this.topics.presence) {
      const ok = accept(Presence, checkPresence, msg)
      if (ok == null) return
      const from = ok.from.toString()
      this.presence.receive(from, ok.message, Date.now())
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
    return { members: this.presence.size, ...this.counters }
  }
}

export function createGossip (components: GossipComponents, init: GossipInit): Gossip {
  return new SwarmGossip(components, init)
}
