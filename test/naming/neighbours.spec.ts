/**
 * Asking neighbours for a name's newest record (`/shoal/names/1.0.0`) over real hosts: the asker
 * takes the newest valid record its connected peers hold, refuses one signed by another key, and
 * a peer that holds nothing answers nothing. A request past the size limit is refused before it
 * is read.
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { logger } from '@libp2p/logger'
import { lpStream } from '@libp2p/utils'
import { NAMES_PROTOCOL, NameNeighbours } from '../../src/naming/neighbours.js'
import { RecordStore } from '../../src/naming/record-store.js'
import { nameOfKey, signRecord } from '../../src/naming/records.js'
import { startHost } from '../helpers/host.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Found } from '../../src/naming/neighbours.js'
import type { Host } from '../../src/host/index.js'
import type { PrivateKey } from '@libp2p/interface'

const CID_A = 'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am'
const CID_B = 'bafkreiey5jxe6ilpf62lnh77tm5ejbbmhbugzjuf6p2v3remlu73ced34q'
const opts = { lifetimeMs: 3_600_000, ttlMs: 60_000 }

describe('names: asking neighbours', function () {
  this.timeout(60_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  const hosts: Host[] = []
  const stores: RecordStore[] = []
  const sides: NameNeighbours[] = []
  let key: PrivateKey

  before(async () => {
    tmp = await tmpDir()
    key = await generateKeyPair('Ed25519')
    // 0 asks; 1 holds sequence 1; 2 holds sequence 0; 3 holds a record of the name signed by another key; 4 holds nothing
    for (let i = 0; i < 5; i++) {
      const host = await startHost(path.join(tmp.dir, `h${i}`))
      const records = new RecordStore(path.join(tmp.dir, `records-${i}`))
      const side = new NameNeighbours({ host, records, log: logger(`test:names:${i}`) })
      await side.start()
      hosts.push(host)
      stores.push(records)
      sides.push(side)
    }
    const name = nameOfKey(key)
    await stores[1].put(name.name, await signRecord(key, `/ipfs/${CID_B}`, 1n, opts))
    await stores[2].put(name.name, await signRecord(key, `/ipfs/${CID_A}`, 0n, opts))
    // a forgery stored as if it were the name's: the store does not check, the asker must
    const forged = await signRecord(await generateKeyPair('Ed25519'), `/ipfs/${CID_A}`, 9n, opts)
    await stores[3].put(name.name, forged)
    for (let i = 1; i < 5; i++) await hosts[0].dial(hosts[i].getMultiaddrs()[0])
  })

  after(async () => {
    for (const s of sides) await s.stop()
    for (const h of hosts) await h.stop()
    await tmp?.cleanup()
  })

  it('takes the newest valid record its neighbours hold, and refuses a forged one', async () => {
    const name = nameOfKey(key)
    const heard: Found[] = []
    const best = await sides[0].ask(name, undefined, AbortSignal.timeout(10_000), f => { heard.push(f) })
    assert.equal(best?.record.sequence, 1n)
    assert.equal(best?.record.value, `/ipfs/${CID_B}`)
    assert.ok(best?.from.equals(hosts[1].peerId))
    assert.ok(heard.every(f => f.record.sequence <= 1n), 'the forged sequence 9 was never taken')
    assert.equal(sides[4].stats().requests, 1, 'the peer holding nothing was asked')
    assert.equal(sides[4].stats().answered, 0)
    // nothing newer than what is held: nothing is found
    assert.equal(await sides[0].ask(name, best?.record, AbortSignal.timeout(10_000)), undefined)
  })

  it('refuses a request past its size limit before reading it', async () => {
    const before = sides[1].stats().requests
    const stream = await hosts[0].dialProtocol(hosts[1].peerId, NAMES_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(new Uint8Array(64 * 1024))
    await assert.rejects(lp.read({ signal: AbortSignal.timeout(5_000) }))
    assert.equal(sides[1].stats().requests, before, 'the oversized request was not taken')
  })
})
