/**
 * libp2p's datastore: peer records and provider records are kept in memory and reach disk on a
 * flush (the timer's, a query's of peer records, or the host's stop); other keys reach disk at once. Seen through the datastore
 * interface, it answers as the file datastore does, for peer records and for the DHT's keys.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { FsDatastore } from 'datastore-fs'
import { Key } from 'interface-datastore'
import { PeerRecordDatastore } from '../../src/host/datastore.js'
import { startHost } from '../helpers/host.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Datastore, Query } from 'interface-datastore'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

// keys of the shapes libp2p and kad-dht use: /peers/<cid>, /dht/provider/<multihash>/<peer>, /dht/record/<key>
const PEER_A = '/peers/bafzaajaiaejcaxwpk7pxsqrt4ovkvv2k5zvixqlxdldr4mhdeaj2m7rbjskvdnsz'
const PEER_B = '/peers/bafzaajaiaejcb3qyd3d2ecqkyvzofotyatmwbrx2lkpmrsn4qpncxrk2vvmc3nzx'
const PEER_C = '/peers/bafzaajaiaejcdmmv4nmh3idbgjuy4zmmczx6yqxgwrm7i3wmdq55hs7l3sexpxkh'
const CID_X = 'ciqf3zf6ofwd4vvtlw7kw3lvkm5ghdlrqj3n5dvoyt5kql7kfxqidgy'
const CID_Y = 'ciqpjjgu4kzyq4tlseqbfjvlhdk4mbgoaniohn2sqn6khlhhp6wkysy'
const PROV_X1 = `/dht/provider/${CID_X}/12D3KooWLbHCWHDa4aQcw5MJPNyeNmGMfUYCwHhyzoqU1GodRW9q`
const PROV_X2 = `/dht/provider/${CID_X}/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo`
const PROV_Y1 = `/dht/provider/${CID_Y}/12D3KooWLbHCWHDa4aQcw5MJPNyeNmGMfUYCwHhyzoqU1GodRW9q`
const RECORD = '/dht/record/afzbeibvyg7gkxjxmsuo5gxvhqadtbxq3ww'

// (not '/': the file datastore globs the whole file system for it)
const PREFIXES = [undefined, '/peers', '/peers/', '/dht', '/dht/provider', `/dht/provider/${CID_X}`, `/dht/provider/${CID_X}/`, '/dht/record', '/nothing']

/** Everything a caller can see of a datastore, after the same operations on it */
async function observe (ds: Datastore): Promise<unknown> {
  const seen: Record<string, unknown> = {}
  const put = async (k: string, v: string): Promise<void> => { await ds.put(new Key(k), bytes(v)) }
  const get = async (k: string): Promise<string> => {
    try {
      return text(await ds.get(new Key(k)))
    } catch (err: any) {
      return `error ${err.name as string}`
    }
  }
  const listing = async (q: Query): Promise<string[]> => {
    const out: string[] = []
    for await (const { key, value } of ds.query(q)) out.push(`${key.toString()}=${text(value)}`)
    return out.sort()
  }
  const keys = async (prefix: string | undefined): Promise<string[]> => {
    const out: string[] = []
    for await (const key of ds.queryKeys({ prefix })) out.push(key.toString())
    return out.sort()
  }
  const all = [PEER_A, PEER_B, PEER_C, PROV_X1, PROV_X2, PROV_Y1, RECORD]
  const state = async (): Promise<unknown> => ({
    values: await Promise.all(all.map(get)),
    has: await Promise.all(all.map(async k => await ds.has(new Key(k)))),
    queries: await Promise.all(PREFIXES.map(async prefix => await listing({ prefix }))),
    keys: await Promise.all(PREFIXES.map(keys))
  })

  await put(PEER_A, 'a1')
  await put(PEER_B, 'b1')
  await put(PROV_X1, 'x1')
  await put(PROV_X2, 'x2')
  await put(PROV_Y1, 'y1')
  await put(RECORD, 'r')
  await put(PEER_A, 'a2')
  seen.afterPuts = await state()

  // a buffer put and then changed, and one read and then changed, leave the stored value alone
  const given = bytes('b2')
  await ds.put(new Key(PEER_B), given)
  given.fill(0)
  const read = await ds.get(new Key(PEER_B))
  read.fill(0)
  seen.copies = await get(PEER_B)

  // the peer store's queries: filters, orders, limit and offset over decoded values
  seen.filtered = await listing({ prefix: '/peers/', filters: [({ value }) => text(value) !== 'a2'] })
  const ordered: string[] = []
  for await (const { key } of ds.query({ prefix: '/peers/', orders: [(a, b) => a.key.toString() < b.key.toString() ? 1 : -1], offset: 1, limit: 1 })) ordered.push(key.toString())
  seen.ordered = ordered

  // a batch as kad-dht and libp2p may commit one
  const batch = ds.batch()
  batch.put(new Key(PEER_C), bytes('c1'))
  batch.delete(new Key(PEER_B))
  batch.delete(new Key(PROV_X2))
  batch.put(new Key(RECORD), bytes('r2'))
  await batch.commit()
  seen.afterBatch = await state()

  for await (const _ of ds.putMany([{ key: new Key(PEER_B), value: bytes('b3') }, { key: new Key(PROV_X2), value: bytes('x3') }])) {}
  const many: string[] = []
  for await (const { key, value } of ds.getMany([new Key(PEER_B), new Key(PROV_X2), new Key(PEER_C)])) many.push(`${key.toString()}=${text(value)}`)
  seen.getMany = many.sort()
  for await (const _ of ds.deleteMany([new Key(PEER_A), new Key(PROV_X1)])) {}
  // deleting what is not there is no error
  await ds.delete(new Key(PEER_A))
  await ds.delete(new Key('/dht/provider/nothing/here'))
  seen.afterMany = await state()
  return seen
}

describe('host: peer records in memory, written out in the background', () => {
  let tmp: Awaited<ReturnType<typeof tmpDir>>
  let dir: string
  beforeEach(async () => {
    tmp = await tmpDir('shoal-datastore-')
    dir = path.join(tmp.dir, 'ds')
  })
  afterEach(async () => { await tmp.cleanup() })

  async function onDisk (key: string, at = dir): Promise<string | undefined> {
    const plain = new FsDatastore(at)
    await plain.open()
    try {
      return await plain.has(new Key(key)) ? text(await plain.get(new Key(key))) : undefined
    } finally {
      await plain.close()
    }
  }

  it('answers every get, has, query, batch and delete as the file datastore does, for peer records and DHT keys', async () => {
    const plain = new FsDatastore(path.join(tmp.dir, 'plain'))
    await plain.open()
    const ours = new PeerRecordDatastore(dir, { flushMs: 60_000 })
    await ours.open()
    const expected = await observe(plain)
    assert.deepEqual(await observe(ours), expected)
    // and the file datastore's view of our files, once written, is the same again
    await ours.close()
    const reopened = new FsDatastore(dir)
    const keys: string[] = []
    for await (const { key, value } of reopened.query({})) keys.push(`${key.toString()}=${text(value)}`)
    const plainKeys: string[] = []
    for await (const { key, value } of plain.query({})) plainKeys.push(`${key.toString()}=${text(value)}`)
    assert.deepEqual(keys.sort(), plainKeys.sort())
  })

  it('peer and provider records are served from memory and written on flush; other keys are written at once', async () => {
    const ds = new PeerRecordDatastore(dir, { flushMs: 60_000 })
    await ds.open()
    ds.startFlushing()
    await ds.put(new Key(PEER_A), bytes('one'))
    await ds.put(new Key(PEER_A), bytes('two'))
    await ds.put(new Key(PROV_X1), bytes('prov'))
    await ds.put(new Key(RECORD), bytes('rec'))
    assert.equal(text(await ds.get(new Key(PEER_A))), 'two')
    assert.equal(await onDisk(PEER_A), undefined, 'not written before a flush')
    assert.equal(await onDisk(PROV_X1), undefined, 'a provider record is not written before a flush')
    assert.equal(await onDisk(RECORD), 'rec')
    // a provider lookup's query lists the record in memory beside those on disk, and does not
    // wait on a flush
    const plain = new FsDatastore(dir)
    await plain.open()
    await plain.put(new Key(PROV_X2), bytes('from an earlier run'))
    await plain.close()
    const listed: string[] = []
    for await (const { key, value } of ds.query({ prefix: `/dht/provider/${CID_X}` })) listed.push(`${key.toString()}=${text(value)}`)
    assert.deepEqual(listed.sort(), [`${PROV_X1}=prov`, `${PROV_X2}=from an earlier run`].sort())
    assert.equal(await onDisk(PEER_A), undefined)
    assert.equal(await onDisk(PROV_X1), undefined)
    await ds.stopFlushing()
    assert.equal(await onDisk(PEER_A), 'two')
    assert.equal(await onDisk(PROV_X1), 'prov')
    await ds.close()
  })

  it('the timer writes new records', async () => {
    const ds = new PeerRecordDatastore(dir, { flushMs: 20 })
    await ds.open()
    ds.startFlushing()
    await ds.put(new Key(PEER_A), bytes('one'))
    const deadline = Date.now() + 5000
    while (await onDisk(PEER_A) == null && Date.now() < deadline) await sleep(20)
    assert.equal(await onDisk(PEER_A), 'one')
    await ds.close()
  })

  it('a delete is final: a record deleted while a flush writes it stays gone, on disk too', async () => {
    const ds = new PeerRecordDatastore(dir, { flushMs: 60_000 })
    await ds.open()
    await ds.put(new Key(PEER_A), bytes('a'))
    const flushing = ds.flush()
    await ds.delete(new Key(PEER_A))
    await flushing
    assert.equal(await ds.has(new Key(PEER_A)), false)
    await assert.rejects(ds.get(new Key(PEER_A)), { name: 'NotFoundError' })
    await ds.close()
    assert.equal(await onDisk(PEER_A), undefined)
  })

  it('a flush that fails leaves the records due, and later flushes still run', async () => {
    const ds = new PeerRecordDatastore(dir, { flushMs: 60_000 })
    await ds.open()
    await ds.put(new Key(PEER_A), bytes('a'))
    // a file where the peer records' directory should be: no record can be written
    await fs.writeFile(path.join(dir, 'peers'), '')
    await assert.rejects(ds.flush())
    await fs.rm(path.join(dir, 'peers'))
    await ds.put(new Key(PEER_B), bytes('b'))
    await ds.flush()
    assert.equal(await onDisk(PEER_A), 'a')
    assert.equal(await onDisk(PEER_B), 'b')
    await ds.close()
  })

  it('a record written by an earlier run is read from disk', async () => {
    const first = new PeerRecordDatastore(dir)
    await first.open()
    await first.put(new Key(PEER_A), bytes('kept'))
    await first.close()
    const second = new PeerRecordDatastore(dir)
    await second.open()
    assert.equal(text(await second.get(new Key(PEER_A))), 'kept')
    await second.close()
  })

  it('a host writes the records of the peers it met when it stops, so it knows them after a restart', async () => {
    const a = await startHost(path.join(tmp.dir, 'a'))
    const b = await startHost(path.join(tmp.dir, 'b'))
    try {
      await a.dial(b.getMultiaddrs()[0])
      const deadline = Date.now() + 10_000
      while (((await a.peerStore.get(b.peerId).catch(() => undefined))?.protocols.length ?? 0) === 0 && Date.now() < deadline) await sleep(50)
      await a.stop()
      const key = `/peers/${b.peerId.toCID().toString()}`
      assert.notEqual(await onDisk(key, path.join(tmp.dir, 'a')), undefined, 'the record of the peer met is on disk')
      const again = await startHost(path.join(tmp.dir, 'a'))
      try {
        const known = await again.peerStore.get(b.peerId)
        assert.ok(known.addresses.length > 0, 'with its addresses')
      } finally {
        await again.stop()
      }
    } finally {
      await a.stop()
      await b.stop()
    }
  })
})
