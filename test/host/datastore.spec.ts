/**
 * libp2p's datastore: peer records are kept in memory and reach disk on a flush (the timer's, a
 * query's, or the host's stop); other keys reach disk at once.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { FsDatastore } from 'datastore-fs'
import { Key } from 'interface-datastore'
import { PeerRecordDatastore } from '../../src/host/datastore.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

describe('host: peer records in memory, written out in the background', () => {
  let dir: string
  beforeEach(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shoal-datastore-')) })
  afterEach(async () => { await fs.rm(dir, { recursive: true, force: true }) })

  async function onDisk (key: string): Promise<string | undefined> {
    const plain = new FsDatastore(dir)
    await plain.open()
    try {
      return await plain.has(new Key(key)) ? text(await plain.get(new Key(key))) : undefined
    } finally {
      await plain.close()
    }
  }

  it('a peer record is served from memory and written on flush; other keys are written at once', async () => {
    const ds = new PeerRecordDatastore(dir, { flushMs: 60_000 })
    await ds.open()
    ds.startFlushing()
    await ds.put(new Key('/peers/a'), bytes('one'))
    await ds.put(new Key('/peers/a'), bytes('two'))
    await ds.put(new Key('/dht/record/x'), bytes('rec'))
    assert.equal(text(await ds.get(new Key('/peers/a'))), 'two')
    assert.equal(await ds.has(new Key('/peers/a')), true)
    assert.equal(await onDisk('/peers/a'), undefined, 'not written before a flush')
    assert.equal(await onDisk('/dht/record/x'), 'rec')
    await ds.stopFlushing()
    assert.equal(await onDisk('/peers/a'), 'two')
    await ds.close()
  })

  it('a query sees records not yet flushed; a deleted record is gone from both', async () => {
    const ds = new PeerRecordDatastore(dir, { flushMs: 60_000 })
    await ds.open()
    await ds.put(new Key('/peers/a'), bytes('a'))
    await ds.put(new Key('/peers/b'), bytes('b'))
    const keys: string[] = []
    for await (const { key } of ds.query({ prefix: '/peers' })) keys.push(key.toString())
    assert.deepEqual(keys.sort(), ['/peers/a', '/peers/b'])
    await ds.delete(new Key('/peers/a'))
    assert.equal(await ds.has(new Key('/peers/a')), false)
    await ds.close()
    assert.equal(await onDisk('/peers/a'), undefined)
    assert.equal(await onDisk('/peers/b'), 'b')
  })

  it('a record written by an earlier run is read from disk', async () => {
    const first = new PeerRecordDatastore(dir)
    await first.open()
    await first.put(new Key('/peers/old'), bytes('kept'))
    await first.close()
    const second = new PeerRecordDatastore(dir)
    await second.open()
    assert.equal(text(await second.get(new Key('/peers/old'))), 'kept')
    await second.close()
  })
})
