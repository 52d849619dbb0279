/**
 * The node is built whole or not at all: a part that fails to start stops what started before it
 * (the host lets go of its port, the repo its lock), and a peer built whole has every part.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import path from 'node:path'
import { createPeer, initRepo } from '../../src/peer/index.js'
import { rejectsNamed } from '../helpers/assert.js'
import { testConfig } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'

/** A TCP port on loopback that was free a moment ago */
async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>(resolve => server.close(() => { resolve() }))
  return port
}

/** Whether this process can listen on the port now */
async function canListen (port: number): Promise<boolean> {
  const server = net.createServer()
  return new Promise<boolean>((resolve) => {
    server.once('error', () => { resolve(false) })
    server.listen(port, '127.0.0.1', () => { server.close(() => { resolve(true) }) })
  })
}

describe('peer: the node', function () {
  this.timeout(60_000)
  let tmp: Awaited<ReturnType<typeof tmpDir>>
  before(async () => { tmp = await tmpDir() })
  after(async () => { await tmp.cleanup() })

  it('a gateway that cannot listen stops the host and releases the repo; the next start succeeds', async () => {
    const repo = path.join(tmp.dir, 'busy-gateway')
    const libp2pPort = await freePort()
    const busy = net.createServer()
    await new Promise<void>(resolve => busy.listen(0, '127.0.0.1', resolve))
    const busyPort = (busy.address() as net.AddressInfo).port
    try {
      await initRepo(repo, {
        configText: JSON.stringify(await testConfig(c => {
          c.addresses.listen = [`/ip4/127.0.0.1/tcp/${libp2pPort}`]
          c.gateway.enabled = true
          c.gateway.address = `127.0.0.1:${busyPort}`
        }))
      })
      await rejectsNamed(createPeer({ repo, online: true, gateway: true }), 'ListenError', /cannot serve the gateway on 127\.0\.0\.1/)
      assert.equal(await canListen(libp2pPort), true, 'the host let go of its port')
    } finally {
      await new Promise<void>(resolve => busy.close(() => { resolve() }))
    }
    // the lock was released and the stores closed: the same repo starts, with every part
    const peer = await createPeer({ repo, online: true, gateway: true })
    try {
      const { node } = peer
      assert.equal(node.host.status, 'started')
      assert.ok(node.gateway?.address.startsWith('127.0.0.1:'))
      assert.equal((await peer.id()).gateway, node.gateway?.address)
      assert.ok(node.metrics != null, 'metrics are on in the test config')
    } finally {
      await peer.stop()
    }
    assert.equal(await canListen(libp2pPort), true, 'stop let go of the port too')
  })

  it('a peer built without the gateway has none, and an offline peer refuses what needs the daemon', async () => {
    const repo = path.join(tmp.dir, 'plain')
    await initRepo(repo, { configText: JSON.stringify(await testConfig()) })
    const online = await createPeer({ repo, online: true })
    try {
      assert.equal(online.node.gateway, undefined)
      assert.equal((await online.id()).online, true)
    } finally {
      await online.stop()
    }
    const offline = await createPeer({ repo })
    try {
      assert.equal((await offline.id()).online, false)
      await rejectsNamed(offline.peers(), 'DaemonNotRunningError', /needs a running daemon/)
      await rejectsNamed(offline.fetch('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'), 'DaemonNotRunningError')
    } finally {
      await offline.stop()
    }
  })
})
