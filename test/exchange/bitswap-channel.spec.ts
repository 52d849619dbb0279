/**
 * The bitswap channel (fetching from an IPFS node) against a stand-in that answers the way Helia
 * does: all the wants it holds at once, in rounds, one round at a time, each on a new stream; a
 * block it has sent is not sent again when wanted again, only after a cancel.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { MiB } from '../../src/constants.js'
import { returnBlockBuffer, takeBlockBuffer } from '../../src/exchange/block-buffers.js'
import { BitswapChannel } from '../../src/exchange/bitswap/channel.js'
import { deliverToAll } from '../../src/exchange/bitswap/received.js'
import { Message } from '../../src/exchange/bitswap/message.js'
import { BITSWAP_120, BitswapServer, prefixOf } from '../../src/exchange/bitswap/server.js'
import { lengthPrefixed } from '../../src/exchange/send.js'
import { Uploads } from '../../src/exchange/uploads.js'
import { startHost } from '../helpers/host.js'
import { tmpDir } from '../helpers/tmp.js'
import type { ChannelResponse } from '../../src/exchange/response-reader.js'
import type { Host } from '../../src/host/index.js'

/** What libp2p lets arrive on an inbound stream before its handler reads (see channel.ts) */
const STREAM_LIMIT = 4 * MiB

interface Block { cid: CID, bytes: Uint8Array<ArrayBuffer> }

/** An IPFS node's ledger of one peer, as Helia keeps it */
class StandIn {
  readonly wants = new Map<string, { block: Block, sent: boolean }>()
  /** Bytes of blocks in each round, in order */
  readonly rounds: number[] = []
  readonly cancelled: string[] = []
  /** Rounds still to be lost: marked sent, never sent */
  lose = 0
  private busy = false

  constructor (private readonly host: Host, private readonly blocks: Map<string, Block>, private readonly fetcher: () => Host) {}

  async start (): Promise<void> {
    await this.host.handle(BITSWAP_120, (stream) => {
      void (async () => {
        const lp = lpStream(stream)
        try {
          while (true) this.receive(Message.decode(await lp.read()))
        } catch {}
      })()
    })
  }

  private receive (message: Message): void {
    for (const entry of message.wantlist?.entries ?? []) {
      const cid = CID.decode(entry.block)
      const key = cid.toString()
      if (entry.cancel) {
        this.cancelled.push(key)
        this.wants.delete(key)
        continue
      }
      const block = this.blocks.get(key)
      // wanted again: ignored, whether sent or not
      if (block != null && !this.wants.has(key)) this.wants.set(key, { block, sent: false })
    }
    void this.run()
  }

  /** Rounds until no want is left unsent: each takes every want held as it starts */
  private async run (): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      while (true) {
        const round = [...this.wants.values()].filter(w => !w.sent)
        if (round.length === 0) break
        for (const w of round) w.sent = true
        this.rounds.push(round.reduce((n, w) => n + w.block.bytes.byteLength, 0))
        if (this.lose > 0) {
          this.lose--
          continue
        }
        const stream = await this.host.dialProtocol(this.fetcher().getMultiaddrs()[0], BITSWAP_120)
        for (const { block } of round) {
          const message: Message = { payload: [{ prefix: prefixOf(block.cid), data: block.bytes }], blocks: [], blockPresences: [], pendingBytes: 0 }
          if (!stream.send(lengthPrefixed(Message.encode(message)))) await stream.onDrain()
        }
        await stream.close()
      }
    } finally {
      this.busy = false
    }
  }
}

describe('exchange: bitswap channel (fetching from an IPFS node)', function () {
  this.timeout(60_000)
  let tmp: Awaited<ReturnType<typeof tmpDir>>
  let fetcher: Host
  let peer: Host
  let server: BitswapServer
  let standIn: StandIn
  let channel: BitswapChannel | undefined
  /** Channels besides `channel` to the same peer, each handed every message as the exchange does */
  let others: BitswapChannel[] = []
  const blocks = new Map<string, Block>()
  const list: Block[] = []

  before(async () => {
    tmp = await tmpDir()
    fetcher = await startHost(`${tmp.dir}/fetcher`)
    peer = await startHost(`${tmp.dir}/peer`)
    for (let i = 0; i < 24; i++) {
      const bytes = randomBytes(MiB)
      const block = { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
      blocks.set(block.cid.toString(), block)
      list.push(block)
    }
    // the fetcher's side reads the answers, as a daemon's bitswap server does
    server = new BitswapServer({ host: fetcher, blocks: { has: async () => false, getBytes: async () => { throw new Error('not held') } }, uploads: new Uploads(4, 0) })
    server.onAnswers = (_peer, message) => {
      void deliverToAll([...(channel != null ? [channel] : []), ...others], message)
    }
    server.onLost = () => { channel?.answersLost() }
    await server.start()
  })

  beforeEach(async () => {
    await peer.unhandle(BITSWAP_120)
    standIn = new StandIn(peer, blocks, () => fetcher)
    await standIn.start()
    channel = await BitswapChannel.open(fetcher, peer.getMultiaddrs()[0], () => {})
  })

  afterEach(() => {
    channel?.close()
    for (const c of others) c.close()
    others = []
  })

  after(async () => {
    await server.stop()
    await fetcher.stop()
    await peer.stop()
    await tmp.cleanup()
  })

  /** Ask for every block at once, as a session with a wide window would */
  async function fetchAll (from = channel as BitswapChannel, blocks = list): Promise<ChannelResponse[]> {
    const asked = await Promise.all(blocks.map(async b => from.request({ want: { cid: b.cid.bytes } })))
    return await Promise.all(asked.map(async a => a.response))
  }

  function assertAll (responses: ChannelResponse[], blocks = list): void {
    for (const [i, res] of responses.entries()) {
      const got = Buffer.concat(res.block?.chunks ?? [])
      assert.ok(got.equals(blocks[i].bytes), `block ${i} answered with the wrong bytes`)
      // matched by its hash here, so the session need not hash it again
      assert.equal(res.block?.verified, true)
      // its buffer goes back to the pool other fetches use
      res.block?.release()
    }
  }

  it('asks for no more in one round than one answer stream carries, and gets every block', async () => {
    const responses = await fetchAll()
    assertAll(responses)
    assert.ok(standIn.rounds.length > 1)
    for (const bytes of standIn.rounds) assert.ok(bytes <= STREAM_LIMIT, `a round of ${bytes} bytes: ${JSON.stringify(standIn.rounds)}`)
    assert.deepEqual(standIn.cancelled, [])
  })

  it('two fetches from the same peer each get their own blocks: one asked by the other is no wrong answer', async () => {
    const second = await BitswapChannel.open(fetcher, peer.getMultiaddrs()[0], () => {})
    others = [second]
    const [a, b] = [list.slice(0, 12), list.slice(12)]
    const [ra, rb] = await Promise.all([fetchAll(channel, a), fetchAll(second, b)])
    assertAll(ra, a)
    assertAll(rb, b)
  })

  it('two fetches of the same block from the same peer share one copy of it, pooled again once both let it go', async () => {
    const second = await BitswapChannel.open(fetcher, peer.getMultiaddrs()[0], () => {})
    others = [second]
    // the peer holds one want per block, so the block comes once, in one message, for both
    const [[ra], [rb]] = await Promise.all([fetchAll(channel, list.slice(0, 1)), fetchAll(second, list.slice(0, 1))])
    const [a, b] = [ra.block?.chunks[0], rb.block?.chunks[0]]
    assert.ok(a != null && b != null && Buffer.from(a).equals(list[0].bytes))
    assert.equal(a.buffer, b.buffer, 'copied and hashed once, for both')
    assert.equal(ra.block?.verified, true)
    assert.equal(rb.block?.verified, true)
    // the pool hands out the buffer returned last: not this one while a fetch still holds it
    ra.block?.release()
    const meanwhile = takeBlockBuffer(MiB)
    assert.notEqual(meanwhile.buffer, a.buffer)
    rb.block?.release()
    const after = takeBlockBuffer(MiB)
    assert.equal(after.buffer, a.buffer)
    returnBlockBuffer(after)
    returnBlockBuffer(meanwhile)
  })

  it('a round lost on the way is cancelled and asked for again, and the fetch completes', async () => {
    standIn.lose = 1
    const responses = await fetchAll()
    assertAll(responses)
    // the lost round's wants, cancelled so that the peer sends them again
    assert.ok(standIn.cancelled.length > 0)
    for (const key of standIn.cancelled) assert.ok(blocks.has(key))
  })
})
