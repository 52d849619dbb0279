/**
 * IPNS records: what shoal signs checks out, each way a record can be bad is refused with its
 * reason, and a record the `ipns` package made from a key of its own (as Helia makes them)
 * resolves in shoal.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { createIPNSRecord, createIPNSRecordWithExpiration, marshalIPNSRecord, unmarshalIPNSRecord } from 'ipns'
import { ipnsValidator } from 'ipns/validator'
import { judge, NameRate } from '../../src/naming/gossip.js'
import { NameRecord } from '../../src/naming/messages.js'
import { createNames } from '../../src/naming/index.js'
import { RecordStore } from '../../src/naming/record-store.js'
import { checkRecord, MAX_RECORD_BYTES, nameOfKey, parseName, signRecord } from '../../src/naming/records.js'
import { tmpDir } from '../helpers/tmp.js'
import type { PrivateKey } from '@libp2p/interface'

const CID_A = 'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am'
const CID_B = 'bafkreiey5jxe6ilpf62lnh77tm5ejbbmhbugzjuf6p2v3remlu73ced34q'
const hour = 3_600_000
const opts = { lifetimeMs: hour, ttlMs: 60_000 }

function message (k: PrivateKey, record: Uint8Array): Uint8Array {
  return NameRecord.encode({ key: new Uint8Array(k.publicKey.toMultihash().bytes), record: new Uint8Array(record) })
}

async function rejection (p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err: any) {
    assert.equal(err.name, 'InvalidRecordError', err.message)
    return err.reason
  }
  assert.fail('the record was accepted')
}

describe('names: records', () => {
  let key: PrivateKey
  let other: PrivateKey

  before(async () => {
    key = await generateKeyPair('Ed25519')
    other = await generateKeyPair('Ed25519')
  })

  it('a record shoal signs is a V2 record that the ipns package\'s validator accepts', async () => {
    const name = nameOfKey(key)
    assert.match(name.name, /^k51/)
    const bytes = await signRecord(key, CID_A, 3n, opts)
    await ipnsValidator(name.routingKey, bytes)
    const r = await checkRecord(name, bytes)
    assert.equal(r.value, `/ipfs/${CID_A}`)
    assert.equal(r.sequence, 3n)
    assert.equal(r.ttl, 60_000n * 1_000_000n)
    assert.equal('signatureV1' in r, false, 'a V2-only record')
  })

  it('names are parsed from k51..., a peer id and /ipns/..., and nothing else', () => {
    const name = nameOfKey(key)
    const peerId = key.publicKey.toString()
    assert.equal(parseName(name.name).name, name.name)
    assert.equal(parseName(`/ipns/${name.name}`).name, name.name)
    assert.equal(parseName(peerId).name, name.name)
    for (const bad of ['', 'k51', CID_A, '/ipns/', `${name.name}/x`, 'x'.repeat(300)]) {
      assert.throws(() => parseName(bad), { name: 'InvalidNameError' }, bad)
    }
  })

  it('refuses a bad signature', async () => {
    const r = unmarshalIPNSRecord(await signRecord(key, CID_A, 1n, opts))
    r.signatureV2 = new Uint8Array(r.signatureV2)
    r.signatureV2[5] ^= 0xff
    assert.equal(await rejection(checkRecord(nameOfKey(key), marshalIPNSRecord(r))), 'bad-signature')
  })

  it('refuses a record signed by another key than the name\'s (the name is the key: its signature fails)', async () => {
    assert.equal(await rejection(checkRecord(nameOfKey(key), await signRecord(other, CID_A, 1n, opts))), 'bad-signature')
  })

  it('refuses a sequence lower than the one held', async () => {
    const name = nameOfKey(key)
    const held = await checkRecord(name, await signRecord(key, CID_B, 5n, opts))
    assert.equal(await rejection(checkRecord(name, await signRecord(key, CID_A, 4n, opts), held)), 'lower-sequence')
    // the same sequence, or a higher one, is no replay
    await checkRecord(name, await signRecord(key, CID_A, 5n, opts), held)
    await checkRecord(name, await signRecord(key, CID_A, 6n, opts), held)
  })

  it('refuses an expired record', async () => {
    const r = await createIPNSRecordWithExpiration(key, `/ipfs/${CID_A}`, 1n, new Date(Date.now() - 1000).toISOString(), { v1Compatible: false })
    assert.equal(await rejection(checkRecord(nameOfKey(key), marshalIPNSRecord(r))), 'expired')
  })

  it('refuses an oversized record before decoding it', async () => {
    assert.equal(await rejection(checkRecord(nameOfKey(key), randomBytes(MAX_RECORD_BYTES + 1))), 'too-large')
    // a record padded past the limit with a long value, signed and otherwise valid
    const big = await createIPNSRecord(key, `/ipfs/${CID_A}/${'a'.repeat(MAX_RECORD_BYTES)}`, 1n, hour, { v1Compatible: false })
    assert.equal(await rejection(checkRecord(nameOfKey(key), marshalIPNSRecord(big))), 'too-large')
  })

  describe('on gossip', () => {
    const held = new Map<string, Uint8Array>()
    const lookup = async (n: string): Promise<any> => held.has(n) ? unmarshalIPNSRecord(held.get(n) as Uint8Array) : undefined

    it('accepts a newer record, ignores one held already, rejects a replayed lower one and a forged one', async () => {
      const rate = new NameRate()
      const name = nameOfKey(key)
      const v2 = await signRecord(key, CID_B, 2n, opts)
      const ok = await judge(message(key, v2), lookup, rate, 0)
      assert.equal(ok.accept, true)
      held.set(name.name, v2)
      const again = await judge(message(key, v2), lookup, rate, 0)
      assert.deepEqual([again.accept, (again as any).ignore], [false, true])
      const replay = await judge(message(key, await signRecord(key, CID_A, 1n, opts)), lookup, rate, 0)
      assert.deepEqual([replay.accept, (replay as any).ignore], [false, false])
      assert.match((replay as any).why, /lower-sequence/)
      // a record of `key`'s name signed by `other`
      const forged = await judge(NameRecord.encode({ key: new Uint8Array(key.publicKey.toMultihash().bytes), record: new Uint8Array(await signRecord(other, CID_A, 9n, opts)) }), lookup, rate, 0)
      assert.deepEqual([forged.accept, (forged as any).ignore], [false, false])
      assert.match((forged as any).why, /bad-signature/)
    })

    it('rejects an oversized message before decoding, and ignores a name updated too often', async () => {
      const big = await judge(randomBytes(MAX_RECORD_BYTES + 1024), lookup, new NameRate(), 0)
      assert.deepEqual([big.accept, (big as any).ignore], [false, false])
      assert.match((big as any).why, /above/)
      const rate = new NameRate()
      const k = await generateKeyPair('Ed25519')
      const verdicts: boolean[] = []
      for (let seq = 0; seq < 8; seq++) {
        const v = await judge(message(k, await signRecord(k, CID_A, BigInt(seq), opts)), async () => undefined, rate, 0)
        verdicts.push(v.accept)
      }
      assert.deepEqual(verdicts, [true, true, true, true, true, false, false, false])
      // a second later, one more is let through
      const later = await judge(message(k, await signRecord(k, CID_A, 9n, opts)), async () => undefined, rate, 1000)
      assert.equal(later.accept, true)
    })
  })

  it('records of a name stored at once keep the newest, whichever lands last', async () => {
    const tmp = await tmpDir()
    try {
      const store = new RecordStore(path.join(tmp.dir, 'records'))
      const name = nameOfKey(key).name
      const records = await Promise.all([5n, 9n, 7n, 8n, 6n].map(async n => signRecord(key, CID_A, n, opts)))
      await Promise.all(records.map(async r => store.put(name, r)))
      assert.equal((await store.get(name))?.record.sequence, 9n)
      assert.equal((await new RecordStore(path.join(tmp.dir, 'records')).get(name))?.record.sequence, 9n, 'on disk too')
    } finally {
      await tmp.cleanup()
    }
  })

  it('a record taken from elsewhere is held before it is on disk; one that cannot be written leaves the one before held', async () => {
    const tmp = await tmpDir()
    try {
      const name = nameOfKey(key).name
      const [r5, r6, r7] = await Promise.all([5n, 6n, 7n].map(async n => signRecord(key, CID_A, n, opts)))
      // records taken at once are held and written in the order they were compared
      const store = new RecordStore(path.join(tmp.dir, 'records'))
      const taken = await Promise.all([r7, r5, r6].map(async r => store.take(name, r)))
      assert.deepEqual(taken.map(t => t.kept), [true, false, false])
      await Promise.all(taken.map(async t => t.written))
      assert.equal((await new RecordStore(path.join(tmp.dir, 'records')).get(name))?.record.sequence, 7n, 'on disk')
      // a directory that cannot be made (a file is in the way): the write fails, after the record was held
      const blocked = path.join(tmp.dir, 'a-file')
      await fs.writeFile(blocked, '')
      const unwritable = new RecordStore(path.join(blocked, 'records'))
      const { kept, written } = await unwritable.take(name, r6)
      assert.equal(kept, true)
      assert.equal((await unwritable.get(name))?.record.sequence, 6n, 'held before it is written')
      await assert.rejects(written)
      assert.equal(await unwritable.get(name), undefined, 'what was held before is held again')
      await assert.rejects(unwritable.put(name, r7))
      assert.equal(await unwritable.get(name), undefined, 'put fails as it did')
    } finally {
      await tmp.cleanup()
    }
  })

  it('a record the ipns package made from a key of its own (V1+V2, as Helia makes them) resolves in shoal', async () => {
    const tmp = await tmpDir()
    try {
      const helia = await generateKeyPair('Ed25519')
      const record = marshalIPNSRecord(await createIPNSRecord(helia, `/ipfs/${CID_B}`, 7n, hour))
      // it arrives as gossip does, and is kept as the gossip room keeps it
      const v = await judge(message(helia, record), async () => undefined, new NameRate(), 0)
      assert.equal(v.accept, true, (v as any).why)
      const name = nameOfKey(helia).name
      await new RecordStore(path.join(tmp.dir, 'names', 'records')).put(name, record)
      const names = createNames({
        root: tmp.dir,
        self: async () => key,
        fetch: async () => undefined,
        pins: { get: async () => undefined },
        unpin: async () => {},
        log: () => undefined
      })
      const r = await names.resolve(`/ipns/${name}`)
      assert.deepEqual({ name: r.name, value: r.value, sequence: r.sequence }, { name, value: `/ipfs/${CID_B}`, sequence: 7 })
      assert.ok(Buffer.from(r.record).equals(Buffer.from(record)), "the signed record itself is kept")
      await assert.rejects(names.resolve(nameOfKey(other).name), { name: 'NameNotFoundError' })
      // imported into shoal's keychain, the key publishes on from the sequence held
      await names.keys.import('helia', privateKeyToProtobuf(helia))
      const next = await names.publish(CID_A, { key: 'helia' })
      assert.deepEqual({ name: next.name, sequence: next.sequence }, { name, sequence: 8 })
      assert.equal((await names.resolve(name)).value, `/ipfs/${CID_A}`)
    } finally {
      await tmp.cleanup()
    }
  })
})
