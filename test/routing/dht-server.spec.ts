/**
 * Who serves the DHT, as a peer sees it: `peers` marks the connected peers in its routing table,
 * and `stats` gives its own mode and the table's size. A peer in client mode never enters
 * another's table.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { startSwarm, stopSwarm, waitFor } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import type { OnlinePeer } from '../../src/peer/index.js'

describe('routing: DHT servers and clients', function () {
  this.timeout(60_000)
  let tmp: Awaited<ReturnType<typeof tmpDir>>
  let peers: OnlinePeer[] = []
  before(async () => {
    tmp = await tmpDir()
    // 0 and 1 serve the DHT; 2 is a client, as a peer behind a NAT is
    peers = await startSwarm(tmp.dir, 3, (c, i) => { c.dht.clientMode = i === 2 })
  })
  after(async () => {
    await stopSwarm(peers)
    await tmp.cleanup()
  })

  it('peers marks a server that is in the routing table, and never a client', async () => {
    const [first, server, client] = await Promise.all(peers.map(async p => (await p.id()).peerId))
    await waitFor(async () => {
      const seen = await peers[0].peers()
      return seen.some(p => p.peerId === server && p.dhtServer === true) && seen.some(p => p.peerId === client)
    }, 20_000, 'the first peer to have the other server in its routing table and the client connected')
    const seen = await peers[0].peers()
    assert.equal(seen.find(p => p.peerId === client)?.dhtServer, false, 'the client is not in the routing table')
    // the client holds both servers in its own table
    await waitFor(async () => (await peers[2].peers()).filter(p => p.dhtServer === true).length === 2, 20_000, 'the client to hold both servers')
    assert.ok((await peers[2].peers()).some(p => p.peerId === first))
    const stats = await Promise.all(peers.map(async p => p.stats()))
    assert.deepEqual(stats.map(s => s.network?.dht.mode), ['server', 'server', 'client'])
    assert.equal(stats[0].network?.dht.routingTable, 1, 'the first peer holds the other server only')
    assert.equal(stats[2].network?.dht.routingTable, 2)
    // a swarm this small is seen whole
    const view = (await peers[0].id()).swarm
    assert.equal(view?.partial, false)
    assert.ok((view?.estimate ?? 0) >= 1, JSON.stringify(view))
  })

  it('a client that provides stays out of the tables of the servers that find it as a provider', async () => {
    const client = (await peers[2].id()).peerId
    const published = await peers[2].publish((async function * () { yield { path: 'c.bin', kind: 'file' as const, content: (async function * () { yield new Uint8Array(4096).fill(7) })() } })(), { announce: false })
    await peers[2].provide(published.cid)
    // kad-dht takes a provider named in an answer as a routing-table candidate and pings it.
    // ADD_PROVIDER has no answer: provide() is done once the message is sent, and a server
    // stores the record a moment later, so a server may have to ask again
    for (const i of [0, 1]) {
      await waitFor(async () => (await peers[i].find(published.cid, { timeoutMs: 10_000 })).some(p => p.peerId === client), 20_000, `server ${i} to find the client as a provider`)
    }
    await sleep(1500)
    for (const i of [0, 1]) {
      const entry = (await peers[i].peers()).find(p => p.peerId === client)
      assert.equal(entry?.dhtServer, false, `server ${i} holds the client in its routing table`)
      assert.equal((await peers[i].stats()).network?.dht.routingTable, 1)
    }
  })
})
