/**
 * Catching up after start: a followed name is looked up at start and again 2, 10 and 30 s after,
 * until a new record of it comes in on gossip; one that came in is left to gossip and the TTL poll
 * (every mirror started together looked its names up at once, 30 s after start, while the next
 * version was on its way). The DHT is a stub that finds nothing and counts lookups, gossip a stub
 * that delivers one message; there are no neighbours.
 */
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createNames } from '../../src/naming/index.js'
import { namesTopic } from '../../src/naming/gossip.js'
import { NameRecord } from '../../src/naming/messages.js'
import { nameOfKey, signRecord } from '../../src/naming/records.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Names, NamesNetwork } from '../../src/naming/index.js'

const CID_A = 'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am'
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('names: catching up after start', function () {
  this.timeout(30_000)

  it('looks a followed name up again 2 s after start only while no record of it came on gossip', async () => {
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
      const listeners: Array<(evt: any) => void> = []
      const network = {
        swarm: 'test',
        dht: {
          async * get (routingKey: Uint8Array) {
            lookups.set(key(routingKey), (lookups.get(key(routingKey)) ?? 0) + 1)
          },
          async * put () {}
        },
        pubsub: {
          topicValidators: new Map(),
          subscribe: () => {},
          unsubscribe: () => {},
          publish: async () => ({ recipients: [] }),
          addEventListener: (_type: string, fn: (evt: any) => void) => { listeners.push(fn) },
          removeEventListener: () => {}
        },
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
      }, { gossip: true, follow: [foundName.name, missingName.name] })
      await names.start(network)
      await sleep(500)
      assert.equal(lookups.get(key(foundName.routingKey)), 1, 'both are looked up at start')
      assert.equal(lookups.get(key(missingName.routingKey)), 1)
      const data = NameRecord.encode({ key: new Uint8Array(foundName.routingKey.subarray('/ipns/'.length)), record: new Uint8Array(record) })
      for (const fn of listeners) fn({ detail: { topic: namesTopic('test'), type: 'signed', data, from: peerIdFromPrivateKey(found) } })
      await sleep(200)
      assert.equal((await names.resolve(foundName.name)).sequence, 0, 'the record from gossip is taken')
      await sleep(2500)
      assert.equal(lookups.get(key(missingName.routingKey)), 2, 'a name not heard of is looked up again at 2 s')
      assert.equal(lookups.get(key(foundName.routingKey)), 1, 'a name heard of on gossip is not')
    } finally {
      await names?.stop()
      await tmp.cleanup()
    }
  })
})
