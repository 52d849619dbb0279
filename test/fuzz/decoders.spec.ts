/**
 * Property-based fuzzing (fast-check) of every decoder shoal owns, in process: exchange messages,
 * gossip messages and their validators, gossipsub RPCs under shoal's decode limits, the control
 * API's frame stream, config files and gateway Range headers. Each must answer every input with a
 * value or a named error, never a crash, a hang or an allocation the input merely claims.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { RPC } from '@libp2p/gossipsub/message'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import fc from 'fast-check'
import * as varint from 'uint8-varint'
import { decodeBytes, decodeEntries } from '../../src/api/frames.js'
import { Request, Response } from '../../src/exchange/message.js'
import { DECODE_RPC_LIMITS } from '../../src/gossip/index.js'
import { Announce, Presence, Replicate } from '../../src/gossip/messages.js'
import { accept, checkAnnounce, checkPresence, checkReplicate } from '../../src/gossip/validate.js'
import { parseRange } from '../../src/gateway/range.js'
import { CONFIGS_DIR, parseConfig, validateConfig } from '../../src/peer/index.js'
import type { PeerId } from '@libp2p/interface'

/** Runs per property; FUZZ_RUNS raises it for a longer local session */
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000)
const params = { numRuns: RUNS }

/** A thrown value is a named Error with a message: what "a clear error" means here */
function assertClearError (err: unknown): void {
  assert.ok(err instanceof Error, `threw a non-Error: ${String(err)}`)
  assert.ok(typeof err.name === 'string' && err.name !== '', 'the error has a name')
  assert.ok(typeof err.message === 'string' && err.message !== '', `${err.name} has a message`)
}

function decodes (fn: () => unknown): boolean {
  try {
    fn()
    return true
  } catch (err) {
    assertClearError(err)
    return false
  }
}

async function * chunks (parts: Uint8Array[]): AsyncGenerator<Uint8Array> { yield * parts }

/** Bytes that start like a valid encoding and then go wrong: mutated, truncated, extended */
function mutated (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(), fc.uint8Array({ maxLength: 64 }))
    .map(([bytes, flips, cut, tail]) => {
      const b = Uint8Array.from(bytes)
      for (const [at, v] of flips) if (b.length > 0) b[at % b.length] = v
      const kept = b.subarray(0, b.length === 0 ? 0 : cut % (b.length + 1))
      return Uint8Array.from([...kept, ...tail])
    })
}

describe('fuzz: decoders', function () {
  this.timeout(120_000)
  let from: PeerId
  before(async () => { from = peerIdFromPrivateKey(await generateKeyPair('Ed25519')) })

  describe('exchange messages', () => {
    const validRequest = fc.record({
      id: fc.nat(),
      have: fc.option(fc.record({ cids: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }) }), { nil: undefined }),
      want: fc.option(fc.record({ cid: fc.uint8Array({ maxLength: 40 }) }), { nil: undefined })
    }).map(r => Request.encode(r))

    it('Request.decode answers random and mutated bytes with a message or a named error', () => {
      fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 2048 }), mutated(validRequest)), (bytes) => {
        decodes(() => Request.decode(bytes))
      }), params)
    })

    it('Response.decode likewise', () => {
      const validResponse = fc.record({ id: fc.nat(), block: fc.option(fc.record({ data: fc.uint8Array({ maxLength: 256 }) }), { nil: undefined }) }).map(r => Response.encode(r))
      fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 2048 }), mutated(validResponse)), (bytes) => {
        decodes(() => Response.decode(bytes))
      }), params)
    })

    it('a Have of more than 1024 CIDs does not decode', () => {
      const cids = Array.from({ length: 1025 }, () => Uint8Array.from([1, 2, 3]))
      assert.equal(decodes(() => Request.decode(Request.encode({ id: 1, have: { cids } }))), false)
    })
  })

  describe('presence, announcement and replication messages', () => {
    const topics = [
      { name: 'presence', codec: Presence, check: checkPresence },
      { name: 'announce', codec: Announce, check: checkAnnounce },
      { name: 'replicate', codec: Replicate, check: checkReplicate }
    ] as const

    for (const { name, codec, check } of topics) {
      it(`${name}: random, mutated and oversized data is accepted or rejected with a reason, never thrown`, () => {
        const now = Date.now()
        const plausible = fc.record({
          addrs: fc.array(fc.oneof(fc.constant('/ip4/10.0.0.1/tcp/4001'), fc.string({ maxLength: 300 })), { maxLength: 20 }),
          version: fc.string({ maxLength: 80 }),
          free: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(Number),
          interval: fc.integer({ min: -10, max: 20 * 60_000 }),
          time: fc.oneof(fc.constant(now), fc.integer({ min: 0, max: 2 ** 52 })),
          cid: fc.oneof(fc.constant('bafkreigsvmthjno273asaq7h4aq3dbqxy7wghzyap75gyu4w4nxyzhkwdi'), fc.string({ maxLength: 200 })),
          name: fc.string({ maxLength: 300 }),
          size: fc.nat(),
          tags: fc.array(fc.string({ maxLength: 70 }), { maxLength: 20 }),
          replicas: fc.nat({ max: 200 }),
          holders: fc.array(fc.string({ maxLength: 60 }), { maxLength: 70 })
        }).map(m => { try { return (codec as any).encode(m) as Uint8Array } catch { return new Uint8Array() } })
        const data = fc.oneof(fc.uint8Array({ maxLength: 5000 }), mutated(plausible), plausible)
        fc.assert(fc.property(data, fc.boolean(), (bytes, signed) => {
          let reason: string | undefined
          const msg = signed
            ? { type: 'signed', from, data: bytes, topic: name, sequenceNumber: 1n, signature: new Uint8Array(64), key: from.publicKey } as any
            : { type: 'unsigned', data: bytes, topic: name } as any
          const ok = accept(codec as any, check as any, msg, (why) => { reason = why })
          if (ok == null) assert.ok(typeof reason === 'string' && reason !== '', 'a rejection names its reason')
          else assert.equal(check(ok.message as any, from, Date.now()), undefined)
          if (!signed) assert.equal(ok, undefined)
          if (bytes.byteLength > 4096) assert.equal(ok, undefined)
        }), params)
      })
    }

    it('gossipsub RPCs under shoal\'s decode limits: random bytes decode or throw a named error', () => {
      const limits = {
        subscriptions: DECODE_RPC_LIMITS.maxSubscriptions,
        messages: DECODE_RPC_LIMITS.maxMessages,
        control: { ihave: 64, ihave$: { messageIDs: 1000 }, iwant: 64, iwant$: { messageIDs: 1000 }, graft: 64, prune: 64, prune$: { peers: 32 }, idontwant: 64, idontwant$: { messageIDs: 1000 } }
      }
      const valid = fc.record({
        subscriptions: fc.array(fc.record({ subscribe: fc.boolean(), topic: fc.string({ maxLength: 30 }) }), { maxLength: 100 }),
        messages: fc.array(fc.record({ topic: fc.string({ maxLength: 30 }), data: fc.uint8Array({ maxLength: 64 }) }), { maxLength: 10 })
      }).map(r => RPC.encode(r))
      fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 4096 }), mutated(valid), valid), (bytes) => {
        let rpc: any
        try {
          rpc = RPC.decode(bytes, { limits })
        } catch (err) {
          assertClearError(err)
          return
        }
        assert.ok(rpc.subscriptions.length <= DECODE_RPC_LIMITS.maxSubscriptions)
        assert.ok(rpc.messages.length <= DECODE_RPC_LIMITS.maxMessages)
      }), params)
    })

    it('an RPC subscribing to 10,000 topics does not decode under shoal\'s limits', () => {
      const subscriptions = Array.from({ length: 10_000 }, (_, i) => ({ subscribe: true, topic: `t${i}` }))
      assert.throws(() => RPC.decode(RPC.encode({ subscriptions, messages: [] }), { limits: { subscriptions: DECODE_RPC_LIMITS.maxSubscriptions } }), /subscriptions|length|limit/i)
    })
  })

  describe('control API frame streams', () => {
    const frame = fc.tuple(fc.integer({ min: 0, max: 6 }), fc.uint8Array({ maxLength: 64 }), fc.oneof(fc.constant(''), fc.json())).map(([tag, body, json]) => {
      const payload = tag === 1 || tag === 4 ? new TextEncoder().encode(json) : body
      return Uint8Array.from([...varint.encode(payload.byteLength + 1), tag, ...payload])
    })
    const stream = fc.oneof(
      fc.array(frame, { maxLength: 10 }).map(fs => [Uint8Array.from(fs.flatMap(f => [...f]))]),
      fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 5 })
    )

    it('decodeEntries yields entries or throws a named error', async () => {
      await fc.assert(fc.asyncProperty(stream, async (parts) => {
        try {
          for await (const entry of decodeEntries(chunks(parts), 4096)) {
            assert.ok(typeof entry.path === 'string')
            if (entry.content != null) for await (const _ of entry.content) {} // eslint-disable-line no-empty
          }
        } catch (err) {
          assertClearError(err)
        }
      }), params)
    })

    it('decodeBytes likewise; a length prefix claiming 4 GiB is refused before any allocation', async () => {
      await fc.assert(fc.asyncProperty(stream, async (parts) => {
        try {
          for await (const _ of decodeBytes(chunks(parts), 4096)) {} // eslint-disable-line no-empty
        } catch (err) {
          assertClearError(err)
        }
      }), params)
      const before = process.memoryUsage().arrayBuffers
      await assert.rejects(async () => {
        for await (const _ of decodeBytes(chunks([varint.encode(4 * 1024 ** 3), new Uint8Array(16)]))) {} // eslint-disable-line no-empty
      }, { name: 'InvalidArgumentError' })
      assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024)
    })
  })

  describe('config files', () => {
    let base: any
    before(async () => { base = JSON.parse(await fs.readFile(path.join(CONFIGS_DIR, 'local.json'), 'utf8')) })

    it('random text is a config or an InvalidConfigError naming the problem', () => {
      fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 500 }), fc.json({ maxDepth: 4 })), (text) => {
        try {
          parseConfig(text, 'fuzz.json')
        } catch (err: any) {
          assert.equal(err.name, 'InvalidConfigError')
          assert.match(err.message, /^fuzz\.json/)
        }
      }), params)
    })

    it('a valid config with one value replaced is checked key by key', () => {
      const keys: Array<[string, string | undefined]> = Object.entries(base).flatMap(([k, v]): Array<[string, string | undefined]> =>
        v != null && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v).map(s => [k, s]) : [[k, undefined]])
      fc.assert(fc.property(fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 3 }), ([k, s], value) => {
        const c = structuredClone(base)
        if (s == null) c[k] = value
        else c[k][s] = value
        try {
          validateConfig(c, 'fuzz.json')
        } catch (err: any) {
          assert.equal(err.name, 'InvalidConfigError')
          assert.ok(err.message.includes(s ?? k), `${err.message} names ${s ?? k}`)
        }
      }), params)
    })
  })

  describe('gateway Range headers', () => {
    it('parseRange never throws, and every range it returns lies inside the file', () => {
      const header = fc.oneof(
        fc.string({ maxLength: 100 }),
        fc.array(fc.tuple(fc.option(fc.integer({ min: -5, max: 2 ** 40 })), fc.option(fc.integer({ min: -5, max: 2 ** 40 }))), { minLength: 1, maxLength: 20 })
          .map(rs => 'bytes=' + rs.map(([a, b]) => `${a ?? ''}-${b ?? ''}`).join(','))
      )
      fc.assert(fc.property(fc.option(header, { nil: undefined }), fc.nat({ max: 2 ** 40 }), (h, size) => {
        const r = parseRange(h, size)
        if (Array.isArray(r)) {
          assert.ok(r.length >= 1 && r.length <= 16)
          for (const range of r) assert.ok(range.start >= 0 && range.start <= range.end && range.end < size, JSON.stringify({ h, size, r }))
        } else {
          assert.ok(r === undefined || r === 'unsatisfiable' || r === 'too-many')
        }
      }), params)
    })
  })
})
