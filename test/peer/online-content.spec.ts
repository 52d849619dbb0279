/**
 * An online peer's publish: besides storing and pinning (test/peer/pin-size.spec.ts), it tells the
 * node's collector that a bulk transfer of the file's size came in, as fetches and served blocks
 * do, so the buffers the file's bytes went through are collected once it is over.
 */
import assert from 'node:assert/strict'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { OnlineContent } from '../../src/peer/online-content.js'
import { bytesOf } from '../helpers/bytes.js'
import { storePerTest } from '../helpers/store.js'
import type { Store } from '../../src/store/index.js'

describe('peer: online publish', () => {
  let store: Store
  storePerTest((s) => { store = s })

  it('tells the collector of the bytes it imported', async () => {
    const ended: number[] = []
    const content = new OnlineContent({
      store,
      config: { publish: { profile: 'unixfs-v1-2025' } } as any,
      node: {
        session: () => { throw new Error('a publish fetches nothing') },
        routing: { provide: async () => ({ accepted: 0 }) } as any,
        quota: { enforceSoon: () => {} } as any,
        gossip: { announce: async () => ({ recipients: 0 }) } as any,
        log: logger('shoal:test:online-content'),
        collector: { ended: (bytes) => { ended.push(bytes) } }
      }
    })
    const size = 3 * 1024 * 1024 + 5
    const bytes = bytesOf('published', size)
    const result = await content.publish((async function * () { yield { path: 'f.bin', kind: 'file' as const, content: (async function * () { yield bytes })() } })(), { announce: false })
    assert.equal(result.size, size)
    assert.deepEqual(ended, [size])
    assert.equal((await store.pins.get(CID.parse(result.cid)))?.size, size)
  })
})
