/**
 * The server's pooled block buffers (src/exchange/serve-buffers.ts): over noise, blocks are read
 * into buffers that go back to the pool once noise has encrypted them; more blocks than the pool
 * holds arrive intact, every buffer is back once the fetch is over, and a connection over TLS
 * takes none.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { SERVE_BUFFERS_KEPT } from '../../src/constants.js'
import { serveBufferCounts } from '../../src/exchange/serve-buffers.js'
import { startSwarm, stopSwarm, waitFor } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import type { OnlinePeer } from '../../src/peer/index.js'

const MiB = 1024 * 1024

async function publishBytes (peer: OnlinePeer, bytes: Uint8Array): Promise<string> {
  const r = await peer.publish((async function * () {
    yield { path: 'data.bin', kind: 'file' as const, content: (async function * () { yield bytes })() }
  })(), { announce: false })
  return r.cid
}

async function catAll (peer: OnlinePeer, cid: string): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const c of peer.cat(cid)) chunks.push(c)
  return Buffer.concat(chunks)
}

describe('exchange: pooled buffers for served blocks', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let peers: OnlinePeer[] = []

  before(async () => { tmp = await tmpDir() })
  afterEach(async () => { await stopSwarm(peers); peers = [] })
  after(async () => { await tmp?.cleanup() })

  const fetchFromFirst = async (bytes: Uint8Array): Promise<void> => {
    const cid = await publishBytes(peers[0], bytes)
    const from = (await peers[0].id()).addresses.filter(a => a.includes('/tcp/') && !a.includes('/ws'))
    const r = await peers[1].fetch(cid, { from })
    assert.equal(r.fetchedBlocks, r.blocks)
    assert.ok((await catAll(peers[1], cid)).equals(bytes), 'the fetched file is not the published one')
  }

  it('over noise: more blocks than the pool holds arrive intact, and every buffer comes back', async () => {
    peers = await startSwarm(path.join(tmp.dir, 'noise'), 2, (c) => { c.encrypters = ['noise'] })
    const before = serveBufferCounts()
    await fetchFromFirst(randomBytes((SERVE_BUFFERS_KEPT + 9) * MiB + 123))
    const after = serveBufferCounts()
    assert.ok(after.live > before.live || before.live > 0, 'no block was read into a pooled buffer')
    assert.ok(after.live <= SERVE_BUFFERS_KEPT, `${after.live} buffers made, over the ${SERVE_BUFFERS_KEPT} kept`)
    // the last blocks' buffers come back as noise encrypts them, just after the fetch sees them
    await waitFor(async () => serveBufferCounts().free === serveBufferCounts().live, 5000, 'every pooled buffer back')
  })

  it('over TLS: blocks are served from memory of their own, none from the pool', async () => {
    peers = await startSwarm(path.join(tmp.dir, 'tls'), 2, (c) => { c.encrypters = ['tls'] })
    const before = serveBufferCounts()
    await fetchFromFirst(randomBytes(3 * MiB + 5))
    const after = serveBufferCounts()
    assert.equal(after.free, before.free, 'a TLS connection took a buffer from the pool')
  })
})
