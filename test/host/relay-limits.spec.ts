import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { reservationsPerIp } from '../../src/host/relay-limits.js'
import type { PeerId } from '@libp2p/interface'

async function peer (): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
}

describe('host: relay reservations per IP', () => {
  it('refuses a peer whose IP holds the limit already, counts no renewal of its own, and limits nothing at 0', async () => {
    const [a, b, c, d] = await Promise.all([peer(), peer(), peer(), peer()])
    const at = (ip: string, id: PeerId): any => ({ remoteAddr: multiaddr(`/ip4/${ip}/tcp/4001/p2p/${id.toString()}`) })
    const ipOf: Record<string, string> = { [a.toString()]: '203.0.113.7', [b.toString()]: '203.0.113.7', [c.toString()]: '203.0.113.7', [d.toString()]: '198.51.100.2' }
    const reservations: Array<[PeerId, { addr: any }]> = [a, b].map(p => [p, { addr: multiaddr(`/ip4/${ipOf[p.toString()]}/tcp/4001`) }])
    const deny = reservationsPerIp({ maxPerIp: 2, reservations: () => reservations, connections: (p) => [at(ipOf[p.toString()], p)] })
    assert.equal(await deny(c), true, 'a third peer of the same IP is refused')
    assert.equal(await deny(d), false, 'a peer of another IP is served')
    assert.equal(await deny(a), false, 'a peer renewing its own reservation is not counted against itself')
    const unlimited = reservationsPerIp({ maxPerIp: 0, reservations: () => reservations, connections: (p) => [at(ipOf[p.toString()], p)] })
    assert.equal(await unlimited(c), false)
  })
})
