/**
 * The blocks of a message a bitswap peer sent, copied out of it and hashed once, whatever the
 * number of fetches from that peer: each fetch has a channel of its own, and every channel to the
 * peer is handed every message (bitswap has no request ids, so only a block's hash says which
 * want it answers). Each block is copied at once into a reused buffer that the block I/O thread
 * hashes and writes without a copy (block-buffers.ts): the message's own buffer then dies young.
 * A buffer goes back to the pool once no channel holds it.
 */
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import * as varint from 'uint8-varint'
import { MAX_BLOCK_SIZE } from '../../constants.js'
import { copyInto } from '../../store/aligned.js'
import { mhKey } from '../../store/index.js'
import { sha256Of } from '../../store/verify.js'
import { returnBlockBuffer, takeBlockBuffer } from '../block-buffers.js'
import type { Message } from './message.js'

/** A block received and hashed */
export interface ReceivedBlock {
  /** The key (`mhKey`) of its SHA-256 multihash, as its bytes hash */
  key: string
  data: Uint8Array
  /** Keep its buffer for an answer; the function returned lets it go (once) */
  hold(): () => void
}

/** A message's blocks, hashed, and its presences */
export interface Received {
  blocks: ReceivedBlock[]
  presences: Message.BlockPresence[]
}

/** What a channel does with a message, once its blocks are hashed */
export interface Receiver {
  deliver(received: Received, askedElsewhere: (key: string) => boolean): void
  asked(key: string): boolean
}

/**
 * Hand a message to every channel to its sender: its blocks are copied and hashed once for all,
 * and `askedElsewhere` tells a channel whether another asked for a block, which is then not taken
 * as a wrong answer to one of its own wants
 */
export async function deliverToAll (channels: readonly Receiver[], message: Message): Promise<void> {
  if (channels.length === 0) return
  const { blocks, release } = await hashBlocks(message)
  try {
    const received = { blocks, presences: message.blockPresences }
    for (const channel of channels) channel.deliver(received, (key) => channels.some(c => c !== channel && c.asked(key)))
  } finally {
    release()
  }
}

/** The message's SHA-256 blocks, copied and hashed; `release` lets go of those no channel held */
async function hashBlocks (message: Message): Promise<{ blocks: ReceivedBlock[], release(): void }> {
  // only SHA-256 is asked for; anything else cannot answer a want
  const datas = [
    ...message.payload.filter(b => multihashOf(b.prefix)?.code === sha256.code).map(b => b.data),
    ...message.blocks
  ].filter(data => data.byteLength <= MAX_BLOCK_SIZE)
  const copies = datas.map(data => {
    const buf = takeBlockBuffer(data.byteLength)
    copyInto(buf, data, 0)
    return buf
  })
  const digests = await Promise.all(copies.map(sha256Of))
  const frees: Array<() => void> = []
  const blocks = copies.map((data, i) => {
    // one hold for this delivery, let go once every channel has seen the block
    let holds = 1
    const letGo = (): void => { if (--holds === 0) returnBlockBuffer(data) }
    frees.push(letGo)
    return {
      key: mhKey(CID.createV1(0x55, Digest.create(sha256.code, digests[i]))),
      data,
      hold: () => {
        holds++
        return once(letGo)
      }
    }
  })
  return { blocks, release: () => { for (const f of frees) f() } }
}

/** `fn`, run the first time the returned function is called only */
function once (fn: () => void): () => void {
  let done = false
  return () => {
    if (done) return
    done = true
    fn()
  }
}

/** The multihash code and digest length a bitswap 1.1.0 prefix names */
function multihashOf (prefix: Uint8Array): { code: number, size: number } | undefined {
  try {
    let offset = 0
    const fields: number[] = []
    for (let i = 0; i < 4; i++) {
      const v = varint.decode(prefix, offset)
      fields.push(v)
      offset += varint.encodingLength(v)
    }
    return { code: fields[2], size: fields[3] }
  } catch {
    return undefined
  }
}
