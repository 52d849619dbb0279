/**
 * Publishing a name online: the record goes out on gossip before its own file is written (the
 * write waits for the disk), and its sequence is reserved on disk before it goes out, so a crash
 * at any moment never lets a restarted peer sign another record with a sequence that may be out.
 * Gossip is a stub that notes what was on disk when each record was pushed; the DHT takes nothing.
 */
import assert from 'node:assert/strict'
import { cpSync, existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { unmarshalIPNSRecord } from 'ipns'
import { createNames } from '../../src/naming/index.js'
import { NameRecord } from '../../src/naming/messages.js'
import { nameOfKey } from '../../src/naming/records.js'
import { RESERVE_AHEAD } from '../../src/naming/sequences.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Names, NamesNetwork } from '../../src/naming/index.js'
import type { PrivateKey } from '@libp2p/interface'

const CID_A = 'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am'
const CID_B = 'bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4'

interface Pushed {
  sequence: bigint
  /** The sequence of the record file on disk when it was pushed, if there was one */
  onDisk?: bigint
  /** The reservation on disk when it was pushed */
  reserved?: bigint
}

function network (onPush: (data: Uint8Array) => void): NamesNetwork {
  return {
    swarm: 'test',
    dht: {
      async * get () {},
      async * put () {}
    },
    pubsub: {
      topicValidators: new Map(),
      subscribe: () => {},
      unsubscribe: () => {},
      publish: async (_topic: string, data: Uint8Array) => {
        onPush(data)
        return { recipients: [] }
      },
      addEventListener: () => {},
      removeEventListener: () => {}
    },
    host: { handle: async () => {}, unhandle: async () => {}, dialProtocol: async () => { throw new Error('no neighbours') }, getConnections: () => [] },
    logger: defaultLogger()
  } as unknown as NamesNetwork
}

function names (root: string, key: PrivateKey): Names {
  return createNames({
    root,
    self: async () => key,
    fetch: async () => undefined,
    pins: { get: async () => undefined },
    unpin: async () => {},
    log: () => undefined
  }, { gossip: true })
}

describe('names: publishing', function () {
  this.timeout(30_000)

  it('pushes a record before its file is written, with its sequence reserved on disk; a crash then restart goes on above it, a clean restart from the next', async () => {
    const tmp = await tmpDir()
    const started: Names[] = []
    try {
      const key = await generateKeyPair('Ed25519')
      const name = nameOfKey(key).name
      const recordFile = (root: string): string => path.join(root, 'names', 'records', `${name}.ipns`)
      const reservationFile = (root: string): string => path.join(root, 'names', 'sequences', name)
      const root = path.join(tmp.dir, 'peer')
      const crashed = path.join(tmp.dir, 'crashed')
      const pushed: Pushed[] = []
      const a = names(root, key)
      started.push(a)
      await a.start(network((data) => {
        const sequence = unmarshalIPNSRecord(NameRecord.decode(data).record).sequence
        pushed.push({
          sequence,
          ...(existsSync(recordFile(root)) ? { onDisk: unmarshalIPNSRecord(readFileSync(recordFile(root))).sequence } : {}),
          ...(existsSync(reservationFile(root)) ? { reserved: BigInt(readFileSync(reservationFile(root), 'utf8').trim()) } : {})
        })
        // the peer crashes the moment its second update goes out: its disk as it is then
        if (sequence === 2n) cpSync(root, crashed, { recursive: true })
      }))
      for (const [i, cid] of [CID_A, CID_B, CID_A].entries()) {
        const r = await a.publish(`/ipfs/${cid}`)
        assert.equal(r.sequence, i, 'sequences run 0, 1, 2')
        assert.equal(unmarshalIPNSRecord(readFileSync(recordFile(root))).sequence, BigInt(i), 'the record is written before publish answers')
      }
      assert.deepEqual(pushed.map(p => p.sequence), [0n, 1n, 2n])
      for (const p of pushed) {
        assert.notEqual(p.onDisk, p.sequence, `sequence ${p.sequence} went out before its file was written`)
        assert.ok(p.reserved != null && p.reserved > p.sequence, `sequence ${p.sequence} was reserved on disk before it went out (${p.reserved})`)
      }

      // restarted after the crash: sequence 2 may be out though its file holds 1, so the next
      // record takes a sequence above any reserved, never 2 with another value
      assert.equal(unmarshalIPNSRecord(readFileSync(recordFile(crashed))).sequence, 1n)
      const b = names(crashed, key)
      started.push(b)
      await b.start(network(() => {}))
      const after = await b.publish(`/ipfs/${CID_B}`)
      assert.ok(after.sequence > 2, `the first record after a crash has sequence ${after.sequence}, above 2`)
      assert.ok(BigInt(after.sequence) >= pushed[2].reserved!, 'it takes the reservation at least')
      assert.ok(BigInt(after.sequence) < 3n + RESERVE_AHEAD, 'and skips no more than was reserved')

      // a clean stop gives the reservation back: the next start goes on from the next sequence
      await a.stop()
      assert.equal(readFileSync(reservationFile(root), 'utf8').trim(), '3')
      const c = names(root, key)
      started.push(c)
      await c.start(network(() => {}))
      assert.equal((await c.publish(`/ipfs/${CID_B}`)).sequence, 3)
    } finally {
      for (const n of started) await n.stop()
      await tmp.cleanup()
    }
  })

  it('offline, takes the reservation a crashed daemon left', async () => {
    const tmp = await tmpDir()
    try {
      const key = await generateKeyPair('Ed25519')
      const name = nameOfKey(key).name
      const a = names(tmp.dir, key)
      assert.equal((await a.publish(`/ipfs/${CID_A}`)).sequence, 0, 'offline, sequences start at 0')
      // a daemon that reserved up to 40 and crashed
      const { mkdirSync, writeFileSync } = await import('node:fs')
      mkdirSync(path.join(tmp.dir, 'names', 'sequences'), { recursive: true })
      writeFileSync(path.join(tmp.dir, 'names', 'sequences', name), '40\n')
      const b = names(tmp.dir, key)
      assert.equal((await b.publish(`/ipfs/${CID_B}`)).sequence, 40)
      const c = names(tmp.dir, key)
      assert.equal((await c.publish(`/ipfs/${CID_A}`)).sequence, 41, 'then on from the record held')
    } finally {
      await tmp.cleanup()
    }
  })
})
