/**
 * Topic validators: a message is accepted only if it is signed, at most 4 KiB, decodes, and
 * every field is in bounds. A rejected message is not delivered or forwarded, and gossipsub
 * counts it against its sender's score (invalid message deliveries, weighted per topic).
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { MAX_CLOCK_SKEW, MAX_GLOBAL_INTERVAL, MAX_GOSSIP_MESSAGE, minute } from '../constants.js'
import { isName, NAME_RULE } from '../names.js'
import { Announce, Presence, Replicate } from './messages.js'
import type { Message, TopicValidatorFn } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'

const MAX_NAME = 255
const MAX_ADDR = 256
const MAX_VERSION = 64
const MAX_REPLICAS = 64
const MAX_SWARM = 100_000_000

export interface Checked<T> {
  from: PeerId
  message: T
}

/** Why a message fails its topic's schema, or undefined if it passes */
export type Check<T> = (message: T, from: PeerId, now: number) => string | undefined

function timeCheck (time: number, now: number): string | undefined {
  return Math.abs(time - now) > MAX_CLOCK_SKEW ? `time ${time} is more than ${MAX_CLOCK_SKEW / minute} minutes from ours` : undefined
}

function cidCheck (s: string): string | undefined {
  if (s.length === 0 || s.length > 128) return 'cid is empty or too long'
  try {
    CID.parse(s)
    return undefined
  } catch {
    return `cid "${s}" does not parse`
  }
}

function presenceCheck (maxInterval: number): Check<Presence> {
  return (m, _from, now) => {
    if (m.addrs.some(a => a.length > MAX_ADDR || !isMultiaddr(a))) return 'an address is not a multiaddr'
    if (m.version.length === 0 || m.version.length > MAX_VERSION) return 'version is empty or too long'
    if (m.interval < 100 || m.interval > maxInterval) return `interval ${m.interval} ms is out of bounds`
    if (m.uploads > 100_000 || m.uploadSlots > 100_000 || m.pins > 100_000_000) return 'counters are out of bounds'
    if (m.swarm > MAX_SWARM) return 'swarm size is out of bounds'
    return timeCheck(m.time, now)
  }
}

/** The first version's presence topic: periods up to 10 minutes */
export const checkPresence = presenceCheck(10 * minute)

/** The v2 presence topic and neighbour beats: global periods up to a day */
export const checkPresence2 = presenceCheck(MAX_GLOBAL_INTERVAL)

export const checkAnnounce: Check<Announce> = (m, _from, now) => {
  return cidCheck(m.cid) ??
    (m.name.length === 0 || m.name.length > MAX_NAME || m.name.includes('/') ? 'name is empty, too long or has a "/"' : undefined) ??
    (m.tags.some(t => !isName(t)) ? `a tag is not ${NAME_RULE}` : undefined) ??
    (m.replicas > MAX_REPLICAS ? `replicas above ${MAX_REPLICAS}` : undefined) ??
    (!Number.isSafeInteger(m.size) ? 'size is out of bounds' : undefined) ??
    timeCheck(m.time, now)
}

export const checkReplicate: Check<Replicate> = (m, _from, now) => {
  const holders = (): string | undefined => {
    if (m.kind !== Replicate.Kind.ASSIGN) return m.holders.length > 0 ? 'holders on a message that is not ASSIGN' : undefined
    if (m.holders.length === 0) return 'ASSIGN without holders'
    for (const h of m.holders) {
      try {
        peerIdFromString(h)
      } catch {
        return `holder "${h.slice(0, 64)}" is not a peer id`
      }
    }
    return undefined
  }
  return cidCheck(m.cid) ?? holders() ?? timeCheck(m.time, now)
}

function isMultiaddr (s: string): boolean {
  try {
    multiaddr(s)
    return s.startsWith('/')
  } catch {
    return false
  }
}

export interface Codec<T> {
  decode(buf: Uint8Array, opts?: any): T
}

/**
 * Decode and check a message's data as a topic's validator does, with the time passed in: no I/O,
 * so the simulator runs the same checks as the daemon
 */
export function decodeChecked<T> (codec: Codec<T>, check: Check<T>, data: Uint8Array, from: PeerId, now: number): { message: T } | { why: string } {
  // the size limit comes before decoding, so nothing is allocated for an oversized message
  if (data.byteLength > MAX_GOSSIP_MESSAGE) return { why: `${data.byteLength} bytes, above ${MAX_GOSSIP_MESSAGE}` }
  let message: T
  try {
    message = codec.decode(data)
  } catch (err: any) {
    return { why: `does not decode: ${err.message}` }
  }
  const why = check(message, from, now)
  return why != null ? { why } : { message }
}

/**
 * Decode and check a gossip message; returns undefined for one that must be rejected (and
 * reports why)
 */
export function accept<T> (codec: Codec<T>, check: Check<T>, msg: Message, onReject?: (why: string) => void, now = Date.now()): Checked<T> | undefined {
  const reject = (why: string): undefined => { onReject?.(why); return undefined }
  if (msg.type !== 'signed') return reject('unsigned')
  const r = decodeChecked(codec, check, msg.data, msg.from, now)
  if ('why' in r) return reject(r.why)
  return { from: msg.from, message: r.message }
}

/** A gossipsub topic validator from a codec and a check */
export function validator<T> (codec: Codec<T>, check: Check<T>, onReject?: (from: PeerId, why: string) => void): TopicValidatorFn {
  return (_peer, msg) => {
    const ok = accept(codec, check, msg, (why) => {
      if (msg.type === 'signed') onReject?.(msg.from, why)
    })
    return ok != null ? TopicValidatorResult.Accept : TopicValidatorResult.Reject
  }
}
