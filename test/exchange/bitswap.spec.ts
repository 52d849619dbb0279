/**
 * The bitswap server on the wire: a bare libp2p host plays an IPFS node, sends wantlists and reads
 * what comes back on the stream the server opens (test/exchange/bitswap-helia.spec.ts fetches
 * with Helia itself).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import * as varint from 'uint8-varint'
import { lpStream } from '@libp2p/utils'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { BITSWAP_100, BITSWAP_110, BITSWAP_120, BitswapServer, MAX_WANTLIST, frame, prefixOf } from '../../src/exchange/bitswap/server.js'
import { Message } from '../../src/exchange/bitswap/message.js'
import { lengthPrefixed } from '../../src/exchange/send.js'
import { Uploads } from '../../src/exchange/uploads.js'
import { startHost } from '../helpers/host.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Host } from '../../src/host/index.js'

async function rawBlock (text: string): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(text)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

/** The same bytes, whatever the views' classes (protons gives Buffers) */
function sameBytes (actual: Uint8Array, expected: Uint8Array): void {
  assert.deepEqual(Uint8Array.from(actual), Uint8Array.from(expected))
}

const { Have, DontHave } = Message.BlockPresenceType
const WANT_HAVE = Message.Wantlist.WantType.Have
const WANT_BLOCK = Message.Wantlist.WantType.Block

describe('exchange: bitswap server', function () {
  this.timeout(30_000)
  let tmp: Awaited<ReturnType<typeof tmpDir>>
  let serverHost: Host
  let client: Host
  let server: BitswapServer
  const stored = new Map<string, Uint8Array>()
  /** Messages the client received, by protocol */
  let received: Array<{ protocol: string, message: Message }> = []
  let held: { cid: CID, bytes: Uint8Array }
  let other: { cid: CID, bytes: Uint8Array }
  let missing: { cid: CID, bytes: Uint8Array }
  const uploads = new Uploads(4, 0)
  /** What the server told its collector, test by test */
  let ended: number[] = []
  /** 1 MiB blocks, for a reader that stops reading */
  const big: Array<{ cid: CID, bytes: Uint8Array }> = []

  before(async () => {
    tmp = await tmpDir()
    serverHost = await startHost(`${tmp.dir}/server`)
    client = await startHost(`${tmp.dir}/client`)
    held = await rawBlock('held block')
    other = await rawBlock('another held block')
    missing = await rawBlock('nobody has this')
    for (let i = 0; i < 24; i++) {
      const bytes = randomBytes(1024 * 1024)
      big.push({ cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes })
    }
    for (const b of [held, other, ...big]) stored.set(b.cid.toString(), b.bytes)
    server = new BitswapServer({
      host: serverHost,
      blocks: {
        has: async cid => stored.has(cid.toString()),
        getBytes: async (cid) => {
          const b = stored.get(cid.toString())
          if (b == null) throw new Error('not found')
          return b
        }
      },
      uploads,
      collector: { ended: (bytes) => { ended.push(bytes) } }
    }, { sendTimeoutMs: 1500 })
    await server.start()
    await client.handle([BITSWAP_120, BITSWAP_110, BITSWAP_100], (stream) => {
      const protocol = stream.protocol ?? ''
      void (async () => {
        const lp = lpStream(stream)
        try {
          while (true) {
            // read first: `received` is replaced between tests
            const message = Message.decode(await lp.read())
            received.push({ protocol, message })
          }
        } catch {}
      })()
    })
  })
  after(async () => {
    await server.stop()
    await client.stop()
    await serverHost.stop()
    await tmp.cleanup()
  })
  beforeEach(() => {
    received = []
    ended = []
  })

  /** Send one message over a fresh stream of `protocol` */
  async function sendWants (protocol: string, entries: Array<Partial<Message.Wantlist.Entry> & { block: Uint8Array }>, full = false): Promise<void> {
    const stream = await client.dialProtocol(serverHost.getMultiaddrs()[0], protocol)
    const message: Message = {
      wantlist: { entries: entries.map(e => ({ priority: 1, cancel: false, wantType: WANT_BLOCK, sendDontHave: false, ...e })), full },
      blocks: [],
      payload: [],
      blockPresences: [],
      pendingBytes: 0
    }
    stream.send(lengthPrefixed(Message.encode(message)))
    await stream.close()
  }

  async function until (check: () => boolean, ms = 5000): Promise<void> {
    const end = Date.now() + ms
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out; received ${JSON.stringify(received.map(r => r.protocol))}`)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  }

  const payloads = (): Message.Block[] => received.flatMap(r => r.message.payload)
  const presences = (): Message.BlockPresence[] => received.flatMap(r => r.message.blockPresences)

  it('1.2.0: sends a wanted block with its CID prefix, HAVE for want-have, DONT_HAVE only when asked', async () => {
    await sendWants(BITSWAP_120, [
      { block: held.cid.bytes },
      { block: other.cid.bytes, wantType: WANT_HAVE },
      { block: missing.cid.bytes, wantType: WANT_HAVE, sendDontHave: true }
    ])
    await until(() => payloads().length === 1 && presences().length === 2)
    const [block] = payloads()
    sameBytes(block.prefix, prefixOf(held.cid))
    sameBytes(block.data, held.bytes)
    assert.ok(received.every(r => r.protocol === BITSWAP_120))
    const byCid = new Map(presences().map(p => [CID.decode(p.cid).toString(), p.type]))
    assert.equal(byCid.get(other.cid.toString()), Have)
    assert.equal(byCid.get(missing.cid.toString()), DontHave)
    // a block whose CID hashes another way is not what was asked: the prefix names the hash
    sameBytes(prefixOf(held.cid), Uint8Array.from([1, 0x55, 0x12, 32]))
  })

  it('a want-block for a block not held gets nothing unless DONT_HAVE was asked for', async () => {
    await sendWants(BITSWAP_120, [{ block: missing.cid.bytes }])
    await sendWants(BITSWAP_120, [{ block: held.cid.bytes, wantType: WANT_HAVE }])
    await until(() => presences().length >= 1)
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.deepEqual(presences().map(p => CID.decode(p.cid).toString()), [held.cid.toString()])
    assert.equal(payloads().length, 0)
  })

  it('tells its collector the bytes of the blocks it served, and nothing of presences', async () => {
    await sendWants(BITSWAP_120, [{ block: big[0].cid.bytes }, { block: big[1].cid.bytes }, { block: held.cid.bytes, wantType: WANT_HAVE }])
    await until(() => payloads().length === 2 && presences().length === 1)
    const served = big[0].bytes.byteLength + big[1].bytes.byteLength
    // told as each run of answers ends, which may come just after the client read them
    await until(() => ended.reduce((n, b) => n + b, 0) >= served)
    assert.equal(ended.reduce((n, b) => n + b, 0), served)
  })

  it('1.1.0 gets payload blocks and no presences; 1.0.0 gets bare blocks', async () => {
    await sendWants(BITSWAP_110, [{ block: held.cid.bytes }, { block: missing.cid.bytes, sendDontHave: true }])
    await until(() => payloads().length === 1)
    assert.equal(received[0].protocol, BITSWAP_110)
    assert.equal(presences().length, 0)
    received = []
    await sendWants(BITSWAP_100, [{ block: other.cid.bytes }])
    await until(() => received.some(r => r.message.blocks.length > 0))
    assert.equal(received[0].protocol, BITSWAP_100)
    sameBytes(received[0].message.blocks[0], other.bytes)
    assert.equal(received[0].message.payload.length, 0)
  })

  it(`refuses a wantlist of more than ${MAX_WANTLIST} entries, before it is allocated, and serves nothing of it`, async () => {
    const before = server.stats().errors
    const entries = Array.from({ length: MAX_WANTLIST + 1 }, () => ({ block: held.cid.bytes }))
    await sendWants(BITSWAP_120, entries)
    await until(() => server.stats().errors > before)
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.equal(payloads().length, 0)
  })

  it('ignores CIDs it cannot read and keeps serving the rest of the list', async () => {
    await sendWants(BITSWAP_120, [{ block: Uint8Array.from([1, 2, 3]) }, { block: held.cid.bytes }])
    await until(() => payloads().length === 1)
    sameBytes(payloads()[0].data, held.bytes)
  })

  it('refuses a 5 MiB message from its length prefix, and a 100,000-entry wantlist, and serves on', async () => {
    const before = server.stats().errors
    const stream = await client.dialProtocol(serverHost.getMultiaddrs()[0], BITSWAP_120)
    // the prefix says 5 MiB: refused before any of it is kept
    stream.send(varint.encode(5 * 1024 * 1024))
    stream.send(new Uint8Array(64 * 1024))
    await until(() => server.stats().errors > before)
    const entries = Array.from({ length: 100_000 }, () => ({ block: held.cid.bytes }))
    const wide = await client.dialProtocol(serverHost.getMultiaddrs()[0], BITSWAP_120)
    const message = Message.encode({ wantlist: { entries: entries.map(e => ({ ...e, priority: 1, cancel: false, wantType: WANT_BLOCK, sendDontHave: false })), full: false }, blocks: [], payload: [], blockPresences: [], pendingBytes: 0 })
    wide.send(lengthPrefixed(message))
    await until(() => server.stats().errors > before + 1)
    assert.equal(payloads().length, 0)
    // and the server is as it was
    await sendWants(BITSWAP_120, [{ block: held.cid.bytes }])
    await until(() => payloads().length === 1)
  })

  it('a peer that asks for blocks and never reads loses its wants and its upload slot', async () => {
    const idle = await startHost(`${tmp.dir}/idle`)
    try {
      let opened = 0
      await idle.handle(BITSWAP_120, (stream) => {
        opened++
        // never read: the server's sends stall once the stream's windows are full
        stream.pause()
      })
      const stream = await idle.dialProtocol(serverHost.getMultiaddrs()[0], BITSWAP_120)
      stream.send(lengthPrefixed(Message.encode({
        wantlist: { entries: big.map(b => ({ block: b.cid.bytes, priority: 1, cancel: false, wantType: WANT_BLOCK, sendDontHave: false })), full: false },
        blocks: [],
        payload: [],
        blockPresences: [],
        pendingBytes: 0
      })))
      await until(() => uploads.active === 1, 5000)
      const errors = server.stats().errors
      // the send times out (1.5 s here), the wants go and the slot is free again
      await until(() => uploads.active === 0 && server.stats().errors > errors, 10_000)
      assert.equal(opened, 1)
      assert.ok(server.stats().peers <= 1)
    } finally {
      await idle.stop()
    }
  })

  it('frames a message, blocks sent as they are, the same as encoding it whole', () => {
    const message: Message = {
      blocks: [new Uint8Array(held.bytes), new Uint8Array(big[0].bytes)],
      payload: [{ prefix: prefixOf(held.cid), data: new Uint8Array(held.bytes) }, { prefix: prefixOf(big[1].cid), data: new Uint8Array(big[1].bytes) }],
      blockPresences: [{ cid: missing.cid.bytes, type: DontHave }],
      pendingBytes: 0
    }
    const framed = frame(message).subarray()
    const whole = lengthPrefixed(Message.encode(message))
    assert.equal(framed.byteLength, whole.byteLength)
    const length = varint.decode(framed)
    assert.equal(length, framed.byteLength - varint.encodingLength(length))
    const decoded = Message.decode(framed.subarray(varint.encodingLength(length)))
    assert.deepEqual(decoded.blocks.map(b => Buffer.from(b)), message.blocks.map(b => Buffer.from(b)))
    assert.deepEqual(decoded.payload.map(b => [Buffer.from(b.prefix), Buffer.from(b.data)]), message.payload.map(b => [Buffer.from(b.prefix), Buffer.from(b.data)]))
    assert.deepEqual(decoded.blockPresences.map(p => [Buffer.from(p.cid), p.type]), [[Buffer.from(missing.cid.bytes), DontHave]])
  })

  it('counts what it served', () => {
    const s = server.stats()
    assert.ok(s.blocksSent >= 4, `blocks sent ${s.blocksSent}`)
    assert.ok(s.haves >= 2 && s.dontHaves >= 1, JSON.stringify(s))
    // the two refused messages are not counted: they never decoded
    assert.equal(s.messagesIn, 9)
  })
})
