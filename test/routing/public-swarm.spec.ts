/**
 * The public swarm's config shape against bootstrap peers started here (there is no internet on
 * test machines): plain libp2p + kad-dht nodes on `/ipfs/kad/1.0.0` that know nothing of shoal
 * stand in for the public bootstrap peers. shoal peers join the DHT through them and find one
 * another through the swarm's rendezvous key, then meet on the gossip topics. One of the two
 * bootstrap peers is down throughout, and peers still join.
 *
 * Loopback addresses are kept by the DHT here (`dht.peerAddresses: all`); the shipped public
 * config keeps public addresses only.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { CONFIGS_DIR, createPeer, initRepo } from '../../src/peer/index.js'
import { rendezvousKey } from '../../src/routing/index.js'
import { stopSwarm, waitFor } from '../helpers/swarm.js'
import { startHost } from '../helpers/host.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Host } from '../../src/host/index.js'
import type { OnlinePeer } from '../../src/peer/index.js'

const bootstrapNode = async (dir: string): Promise<Host> => await startHost(dir, {
  limits: { maxConnections: 100, maxIncomingPendingConnections: 50, inboundConnectionThreshold: 1000, dialTimeoutMs: 5000 },
  dht: { protocol: '/ipfs/kad/1.0.0', clientMode: false, peerAddresses: 'all' },
  agentVersion: 'bootstrap-test'
})


describe('routing: the public swarm config against local bootstrap peers', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  const bootstraps: Host[] = []
  const peers: OnlinePeer[] = []

  before(async () => { tmp = await tmpDir() })
  after(async () => {
    await stopSwarm(peers)
    await Promise.all(bootstraps.map(async b => b.stop()))
    await tmp?.cleanup()
  })

  it('joins the DHT through the bootstrap peers and finds the other shoal peers by the rendezvous key', async () => {
    for (const i of [0, 1]) bootstraps.push(await bootstrapNode(path.join(tmp.dir, `boot-${i}`)))
    const bootstrapList = bootstraps.map(b => b.getMultiaddrs()[0].toString())
    // the second bootstrap peer is down: joining must not depend on every one being up
    await bootstraps[1].stop()

    const pub = JSON.parse(await fs.readFile(path.join(CONFIGS_DIR, 'public.json'), 'utf8'))
    for (let i = 0; i < 3; i++) {
      const config = structuredClone(pub)
      config.addresses.listen = ['/ip4/127.0.0.1/tcp/0']
      config.api.address = '127.0.0.1:0'
      config.bootstrap = bootstrapList
      config.dht.peerAddresses = 'all'
      config.discovery.rendezvousIntervalMs = 2000
      config.gossip.presenceIntervalMs = 1000
      config.gossip.colocationWhitelist = ['127.0.0.1']
      const repo = path.join(tmp.dir, `shoal-${i}`)
      await initRepo(repo, { configText: JSON.stringify(config) })
      const peer = await createPeer({ repo, online: true })
      peers.push(peer)
    }
    const ids = peers.map(p => p.peerId.toString())
    const key = await rendezvousKey('public')
    // every shoal peer provided the rendezvous key, and each finds the others under it
    await waitFor(async () => {
      const found = new Set<string>()
      for await (const p of peers[0].node.routing.findProviders(key, { timeoutMs: 3000 })) found.add(p.id.toString())
      return ids.slice(1).every(id => found.has(id))
    }, 60_000, 'the other shoal peers under the rendezvous key')
    // and they meet on the gossip topics: each membership table holds the three, and not the bootstrap peer
    await waitFor(async () => peers.every(p => {
      const alive = (p.node.gossip.members() ?? []).filter(m => m.state === 'alive').map(m => m.peerId)
      return ids.every(id => alive.includes(id))
    }), 60_000, 'every shoal peer in every membership table')
    for (const p of peers) {
      assert.ok(!(p.node.gossip.members() ?? []).some(m => m.peerId === bootstraps[0].peerId.toString()), 'a bootstrap peer is not a member')
    }
    assert.equal(peers[0].config.dht.protocol, '/ipfs/kad/1.0.0')
  })
})
