/**
 * Catching up after start: a followed name is looked up at start and again 2, 10 and 30 s after,
 * until a record of it comes in from the swarm; one that came in is left to gossip and the TTL
 * poll (every mirror started together looked its names up at once, 30 s after start, while the
 * next version was on its way). The DHT is a stub that counts lookups; there are no neighbours.
 */
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { createNames } from '../../src/naming/index.js'
import { nameOfKey, signRecord } from '../../src/naming/records.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Names, NamesNetwork } from '../../src/naming/index.js'

const CID_A = 'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am'
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('names: catching up after start', function () {
  this.timeout(30_000)

  it('looks a followed name up again 2 s after start only while no record of it came from the swarm', async () => {
    const tmp = await tmpDir()
    let names: Names | undefined
    try {
      const found = await generateKeyPair('Ed25519')
      const missing = await generateKeyPair('Ed25519')
      const foundName = nameOfKey(found)
      const missingName = nameOfKey(missing)
      const record = await signRecord(found, `/ipfs/${CID_A}`, 0n, { lifetimeMs: 3_600_000, ttlMs: 3_600_000 })
      const lookups = new Map<string, number>()
      const key = (k: Uint8Array): string => Buffer.from(k).toString('hex')
      const network = {
        swarm: 'test',
        dht: {
          // the DHT holds a record of one name and none of the other
          async * get (routingKey: Uint8Array) {
            lookups.set(key(routingKey), (lookups.get(key(routingKey)) ?? 0) + 1)
            if (key(routingKey) === key(foundName.routingKey)) yield { name: 'VALUE', value: record, from: {} }
          },
          async * put () {}
        },
        pubsub: {},
        host: { handle: async () => {}, unhandle: async () => {}, dialProtocol: async () => { throw new Error('no neighbours') }, getConnections: () => [] },
        logger: defaultLogger()
      } as unknown as NamesNetwork
      names = createNames({
        root: tmp.dir,
        self: async () => found,
        fetch: async () => undefined,
        pins: { get: async () => undefined },
        unpin: async () => {},
        log: () => undefined
      }, { gossip: false, follow: [foundName.name, missingName.name] })
      await names.start(network)
      await sleep(500)
      assert.equal(lookups.get(key(foundName.routingKey)), 1, 'both are looked up at start')
      assert.equal(lookups.get(key(missingName.routingKey)), 1)
      assert.equal((await names.resolve(foundName.name)).sequence, 0, 'the record found is taken')
      await sleep(2500)
      assert.equal(lookups.get(key(missingName.routingKey)), 2, 'a name not heard of is looked up again at 2 s')
      assert.equal(lookups.get(key(foundName.routingKey)), 1, 'a name heard of is not')
    } finally {
      await names?.stop()
      await tmp.cleanup()
    }
  })
})
