/**
 * Records pushed on gossip: the swarm's topic `shoal/<swarm>/names` carries each record as it is
 * published, so every peer holds the newest within a gossip round and the DHT is only the
 * fallback for peers that were away (docs/names.md). A message is delivered and forwarded only
 * if it is signed, within the size limit before it is decoded, carries a valid record of the
 * name it says (signature, not expired), with a sequence not lower than the one held, and the
 * name has not been updated too often.
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { multihashToIPNSRoutingKey } from 'ipns'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { NameRecord } from './messages.js'
import { checkRecord, isNewer, MAX_RECORD_BYTES } from './records.js'
import type { IpnsName } from './records.js'
import type { RecordStore } from './record-store.js'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { Logger, PeerId } from '@libp2p/interface'
import type { IPNSRecord } from 'ipns'

const second = 1000
/** Largest message on the topic: a record at its limit and its key, with the framing */
export const MAX_NAME_MESSAGE = MAX_RECORD_BYTES + 128
const MAX_KEY_BYTES = 64
const LIBP2P_KEY = 0x72
/** Updates of one name taken at once, then one per RATE_INTERVAL */
export const RATE_BURST = 5
export const RATE_INTERVAL = second
/** Names whose rate is tracked; the least recently updated are forgotten past this */
const RATE_NAMES = 10_000

export function namesTopic (swarm: string): string {
  return `shoal/${swarm}/names`
}

/**
 * At most RATE_BURST updates of a name at once and one per RATE_INTERVAL after: a token bucket
 * per name, with the clock passed in
 */
export class NameRate {
  private readonly buckets = new Map<string, { tokens: number, at: number }>()

  take (name: string, now: number): boolean {
    const b = this.buckets.get(name) ?? { tokens: RATE_BURST, at: now }
    b.tokens = Math.min(RATE_BURST, b.tokens + (now - b.at) / RATE_INTERVAL)
    b.at = now
    this.buckets.delete(name)
    this.buckets.set(name, b)
    if (this.buckets.size > RATE_NAMES) this.buckets.delete(this.buckets.keys().next().value as string)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }
}

/** The name a message's key stands for, or why it stands for none */
export function nameOfKey (key: Uint8Array): IpnsName | string {
  if (key.byteLength === 0 || key.byteLength > MAX_KEY_BYTES) return `key of ${key.byteLength} bytes`
  try {
    const digest = Digest.decode(key)
    // identity (inlined Ed25519 keys) or sha2-256 (RSA keys, carried in the record)
    if (digest.code !== 0x00 && digest.code !== 0x12) return `key hash 0x${digest.code.toString(16)} is not identity or sha2-256`
    return { name: CID.createV1(LIBP2P_KEY, digest).toString(base36), routingKey: multihashToIPNSRoutingKey(digest as Digest.Digest<0x00 | 0x12, number>) }
  } catch {
    return 'key is not a multihash'
  }
}

export type Verdict = { accept: true, name: IpnsName, record: IPNSRecord } | { accept: false, ignore: boolean, why: string }

/**
 * The verdict on a message's data, as the topic's validator gives it: `ignore` for what is
 * merely old or too frequent (dropped, not held against the sender), otherwise a rejection
 */
export async function judge (data: Uint8Array, held: (name: string) => Promise<IPNSRecord | undefined>, rate: NameRate, now: number): Promise<Verdict> {
  // the size limit comes before decoding, so nothing is allocated for an oversized message
  if (data.byteLength > MAX_NAME_MESSAGE) return { accept: false, ignore: false, why: `${data.byteLength} bytes, above ${MAX_NAME_MESSAGE}` }
  let m: NameRecord
  try {
    m = NameRecord.decode(data)
  } catch (err: any) {
    return { accept: false, ignore: false, why: `does not decode: ${err.message}` }
  }
  const name = nameOfKey(m.key)
  if (typeof name === 'string') return { accept: false, ignore: false, why: name }
  const current = await held(name.name)
  let record: IPNSRecord
  try {
    record = await checkRecord(name, m.record, current)
  } catch (err: any) {
    return { accept: false, ignore: false, why: `${err.reason ?? 'invalid'}: ${err.message}` }
  }
  if (!isNewer(record, current)) return { accept: false, ignore: true, why: `sequence ${record.sequence} of ${name.name} is held already` }
  if (!rate.take(name.name, now)) return { accept: false, ignore: true, why: `${name.name} is updated more often than once a second` }
  return { accept: true, name, record }
}

export interface NameGossipComponents {
  pubsub: Pick<GossipSub, 'subscribe' | 'unsubscribe' | 'publish' | 'topicValidators' | 'addEventListener' | 'removeEventListener'>
  records: Pick<RecordStore, 'get' | 'take'>
  log: Logger
  /** A newer record of a name was taken from gossip and stored */
  onRecord(name: IpnsName, record: IPNSRecord, from: PeerId): void
}

export interface NameGossipStats {
  /** Records taken from gossip */
  received: number
  /** Messages rejected (invalid) */
  rejected: number
  /** Messages ignored (not newer, too frequent) */
  ignored: number
}

export class NameGossip {
  private readonly components: NameGossipComponents
  private readonly topic: string
  private readonly rate = new NameRate()
  private readonly counters: NameGossipStats = { received: 0, rejected: 0, ignored: 0 }
  private started = false
  private readonly onMessage = (evt: CustomEvent<Message>): void => { void this.take(evt.detail) }

  constructor (components: NameGossipComponents, swarm: string) {
    this.components = components
    this.topic = namesTopic(swarm)
  }

  start (): void {
    if (this.started) return
    this.started = true
    const { pubsub } = this.components
    pubsub.topicValidators.set(this.topic, async (_peer, msg) => {
      if (msg.type !== 'signed') {
        this.counters.rejected++
        return TopicValidatorResult.Reject
      }
      const v = await judge(msg.data, async (n) => (await this.components.records.get(n))?.record, this.rate, Date.now())
      if (v.accept) return TopicValidatorResult.Accept
      if (v.ignore) this.counters.ignored++
      else this.counters.rejected++
      this.components.log('%s a record from %p: %s', v.ignore ? 'ignored' : 'rejected', msg.from, v.why)
      return v.ignore ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
    })
    pubsub.addEventListener('message', this.onMessage)
    pubsub.subscribe(this.topic)
  }

  stop (): void {
    if (!this.started) return
    this.started = false
    const { pubsub } = this.components
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.unsubscribe(this.topic)
    pubsub.topicValidators.delete(this.topic)
  }

  /** Push a record (checked already) to the swarm; resolves with how many peers it went to */
  async push (name: IpnsName, bytes: Uint8Array): Promise<number> {
    const key = name.routingKey.subarray('/ipns/'.length)
    const r = await this.components.pubsub.publish(this.topic, NameRecord.encode({ key: new Uint8Array(key), record: new Uint8Array(bytes) }))
    return r.recipients.length
  }

  stats (): NameGossipStats {
    return { ...this.counters }
  }

  private async take (msg: Message): Promise<void> {
    if (msg.topic !== this.topic || msg.type !== 'signed') return
    // the validator accepted it; checked again here (a signature check is cheap) rather than
    // remembered, as not every accepted message is delivered
    try {
      const m = NameRecord.decode(msg.data)
      const name = nameOfKey(m.key)
      if (typeof name === 'string') return
      const record = await checkRecord(name, m.record)
      // the follower starts its fetch once the record is held, not once it is on disk (writes
      // wait for the disk's other writers: 0.1-4 s in bench/names --lab, docs/names.md)
      const { kept, written } = await this.components.records.take(name.name, m.record, record)
      if (kept) {
        this.counters.received++
        this.components.onRecord(name, record, msg.from)
      }
      await written
    } catch (err: any) {
      this.components.log('could not take a record from %p: %s', msg.from, err.message)
    }
  }
}
