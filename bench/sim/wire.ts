/**
 * Bytes on the wire, from the real codecs: shoal's messages are encoded with `messages.ts`, and
 * the gossipsub RPCs around them with gossipsub's own RPC codec, once per shape, so the simulator
 * counts what a daemon would send. Framing below the RPC (the length prefix, one yamux frame
 * header and one noise frame per RPC) is added as a constant; TCP/IP headers and ACKs are not
 * counted.
 */
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { RPC } from '@libp2p/gossipsub/message'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'

/** 12 bytes of yamux header, 2 + 16 of noise length and tag, ~2 of length prefix */
export const FRAMING = 32
const SIGNATURE = 64
const SEQNO = 8

export interface WireSizes {
  /** Bytes of one RPC carrying one message, less the message's data */
  messageOverhead(topic: string): number
  /** Bytes of a gossipsub message id (author's public key in protobuf + seqno) */
  msgId: number
  /** One RPC with an IHAVE of `n` ids on a topic */
  ihave(topic: string, n: number): number
  /** One RPC with an IWANT of `n` ids */
  iwant(n: number): number
  /** One RPC with a GRAFT or a PRUNE */
  control(topic: string): number
  /**
   * A neighbour beat of `n` bytes on the stream kept to that neighbour: what the sender sends
   * (`out`) and what comes back (`back`)
   */
  neighbourStream(n: number): { out: number, back: number }
}

/** yamux frame header */
const YAMUX = 12
/** noise: 2 bytes of length and 16 of tag per frame */
const NOISE = 18
const varint = (n: number): number => n < 128 ? 1 : n < 16384 ? 2 : 3

/**
 * Each peer keeps one stream to each neighbour open (opened at its first beat, whose multistream-
 * select and yamux SYN are not counted) and writes each beat on it as one length-prefixed message:
 * one yamux frame in one noise frame. Nothing comes back but yamux window updates, one per 128 KiB
 * or so, not counted.
 */
export function neighbourStream (n: number): { out: number, back: number } {
  return { out: YAMUX + NOISE + varint(n) + n, back: 0 }
}

export async function wireSizes (): Promise<WireSizes> {
  const key = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(key)
  const from = peerId.toMultihash().bytes
  const msgId = publicKeyToProtobuf(key.publicKey).byteLength + SEQNO
  const id = new Uint8Array(msgId)
  const overhead = new Map<string, number>()
  const rpc = (r: Partial<RPC>): number => RPC.encode({ subscriptions: [], messages: [], ...r }).byteLength + FRAMING
  const perId = rpc({ control: { ihave: [{ topicID: 't', messageIDs: [id, id] }], iwant: [], graft: [], prune: [], idontwant: [] } }) -
    rpc({ control: { ihave: [{ topicID: 't', messageIDs: [id] }], iwant: [], graft: [], prune: [], idontwant: [] } })
  const ctl = (c: Partial<RPC.ControlMessage>): number => rpc({ control: { ihave: [], iwant: [], graft: [], prune: [], idontwant: [], ...c } })
  return {
    msgId,
    messageOverhead (topic) {
      let o = overhead.get(topic)
      if (o == null) {
        const data = new Uint8Array(200)
        o = rpc({ messages: [{ from, data, seqno: new Uint8Array(SEQNO), topic, signature: new Uint8Array(SIGNATURE) }] }) - data.byteLength
        overhead.set(topic, o)
      }
      return o
    },
    ihave: (topic, n) => ctl({ ihave: [{ topicID: topic, messageIDs: [id] }] }) + (n - 1) * perId,
    iwant: (n) => ctl({ iwant: [{ messageIDs: [id] }] }) + (n - 1) * perId,
    control: (topic) => ctl({ graft: [{ topicID: topic }] }),
    neighbourStream
  }
}

/** Real Ed25519 peer ids, so membership tables hold keys of their real length */
export async function peerIds (n: number): Promise<PeerId[]> {
  const ids: PeerId[] = []
  for (let i = 0; i < n; i++) ids.push(peerIdFromPrivateKey(await generateKeyPair('Ed25519')))
  return ids
}
