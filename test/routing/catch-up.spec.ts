import assert from 'node:assert/strict'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { provideUnprovided } from '../../src/routing/catch-up.js'
import type { Logger } from '@libp2p/interface'

const log = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false, newScope: () => log }) as unknown as Logger

async function cidOf (s: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(s)))
}

describe('routing: providing what was held but never provided', () => {
  it('waits for a DHT peer, provides only the unprovided roots, and goes on past a failed provide', async () => {
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(cidOf))
    let peers = 0
    const provided: string[] = []
    const done = provideUnprovided({
      roots: async () => [a, b, c],
      provided: async (cid) => cid.equals(b),
      provide: async (cid) => {
        if (cid.equals(a)) throw new Error('no peer took it')
        provided.push(cid.toString())
        return { accepted: 1 }
      },
      dhtPeers: () => peers,
      log
    }, AbortSignal.timeout(20_000))
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.deepEqual(provided, [], 'nothing is provided before a DHT peer is known')
    peers = 1
    assert.equal(await done, 1)
    assert.deepEqual(provided, [c.toString()])
  })

  it('stops when the peer stops', async () => {
    const controller = new AbortController()
    const done = provideUnprovided({ roots: async () => [], provided: async () => false, provide: async () => ({ accepted: 0 }), dhtPeers: () => 0, log }, controller.signal)
    controller.abort()
    await assert.rejects(done)
  })
})
