/**
 * Config validation: every key known, every value of its type, nothing missing, the API on
 * loopback only.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import { checkAddresses, parseConfig } from '../../src/peer/config.js'
import { parseHostPort, validateConfig } from '../../src/peer/config-checks.js'

const CONFIGS = new URL('../../../configs/', import.meta.url)
const SOURCE = '/repo/config.json'

async function readConfig (name: string): Promise<any> {
  return JSON.parse(await fs.readFile(new URL(name, CONFIGS), 'utf8'))
}

/** Assert that validating `raw` throws InvalidConfigError whose message names `key` and the file */
function rejects (raw: unknown, key: string): void {
  assert.throws(() => validateConfig(raw, SOURCE), (err: any) => {
    assert.equal(err.name, 'InvalidConfigError')
    assert.ok(err.message.includes(key), `"${err.message}" names ${key}`)
    assert.ok(err.message.startsWith(`${SOURCE}: `), err.message)
    return true
  })
}

describe('peer: config', () => {
  let base: any

  beforeEach(async () => {
    base = await readConfig('default.json')
  })

  /** The default config with one change */
  function edited (edit: (c: any) => void): any {
    const c = structuredClone(base)
    edit(c)
    return c
  }

  describe('validateConfig', () => {
    it('accepts configs/default.json, local.json and public.json, each its own swarm', async () => {
      assert.deepEqual(validateConfig(base, SOURCE), base)
      const local = validateConfig(await readConfig('local.json'), SOURCE)
      assert.equal(local.api.address, '127.0.0.1:0')
      assert.equal(local.swarm, 'local')
      assert.equal(local.discovery.mdns, true)
      assert.equal(local.dht.peerAddresses, 'private')
      assert.notEqual(local.dht.protocol, base.dht.protocol, 'a local swarm has its own DHT')
      const pub = validateConfig(await readConfig('public.json'), SOURCE)
      assert.equal(pub.dht.protocol, '/ipfs/kad/1.0.0')
      assert.equal(pub.dht.peerAddresses, 'public')
      assert.equal(pub.discovery.rendezvous, true)
      assert.ok(pub.bootstrap.length >= 4)
      assert.equal(pub.limits.inboundConnectionThreshold, base.limits.inboundConnectionThreshold, 'the public swarm keeps the strict inbound rate')
      for (const c of [base, local, pub]) {
        assert.equal(c.dht.reprovideIntervalMs, 22 * 3600 * 1000)
        assert.equal(c.dht.recordLifetimeMs, 48 * 3600 * 1000)
      }
    })

    it('checks the swarm, discovery, gossip, replicate and quota keys', () => {
      rejects(edited(c => { c.swarm = 'My Swarm' }), 'swarm')
      rejects(edited(c => { c.swarmKey = null }), 'swarmKey')
      rejects(edited(c => { c.discovery.mdns = 'on' }), 'discovery.mdns')
      rejects(edited(c => { c.discovery.rendezvousIntervalMs = 0 }), 'discovery.rendezvousIntervalMs')
      rejects(edited(c => { c.gossip.presenceIntervalMs = -1 }), 'gossip.presenceIntervalMs')
      rejects(edited(c => { c.gossip.colocationWhitelist = '127.0.0.1' }), 'gossip.colocationWhitelist')
      rejects(edited(c => { c.replicate.tags = ['ok', ''] }), 'replicate.tags')
      rejects(edited(c => { c.replicate.maxTotalBytes = -5 }), 'replicate.maxTotalBytes')
      rejects(edited(c => { c.replicate.follow = ['not a name'] }), 'replicate.follow')
      rejects(edited(c => { c.replicate.keepVersions = 0 }), 'replicate.keepVersions')
      rejects(edited(c => { c.names.ttlMs = -1 }), 'names.ttlMs')
      rejects(edited(c => { c.names.lifetimeMs = c.names.republishIntervalMs }), 'names.lifetimeMs')
      rejects(edited(c => { c.store.quota = '1G' }), 'store.quota')
      rejects(edited(c => { c.dht.recordLifetimeMs = c.dht.reprovideIntervalMs }), 'dht.recordLifetimeMs')
      validateConfig(edited(c => { c.swarm = 'team-a.lab_2'; c.swarmKey = 'swarm.key'; c.replicate = { enabled: true, tags: ['cdn'], maxFileSize: 1, maxTotalBytes: 2, follow: ['k51qzi5uqu5dlaye939u4hmfrztmjwllwaws3iubfhbn45p8uxyc0twh5sbii5'], keepVersions: 2 } }), SOURCE)
    })

    it('accepts every known profile and peerAddresses value', () => {
      for (const profile of ['unixfs-v1-2025', 'unixfs-v0-2015']) {
        validateConfig(edited(c => { c.publish.profile = profile }), SOURCE)
      }
      for (const v of ['public', 'private', 'all']) {
        validateConfig(edited(c => { c.dht.peerAddresses = v }), SOURCE)
      }
    })

    it('rejects something that is not an object', () => {
      for (const raw of [null, [], 'config', 42]) {
        assert.throws(() => validateConfig(raw, SOURCE), { name: 'InvalidConfigError' })
      }
    })

    it('rejects unknown keys, top-level and nested', () => {
      rejects(edited(c => { c.swarms = 'x' }), '"swarms"')
      rejects(edited(c => { c.api.port = 5080 }), '"api.port"')
      rejects(edited(c => { c.limits.maxStreams = 10 }), '"limits.maxStreams"')
    })

    it('rejects missing keys, top-level and nested', () => {
      rejects(edited(c => { delete c.swarm }), '"swarm"')
      rejects(edited(c => { delete c.bootstrap }), '"bootstrap"')
      rejects(edited(c => { delete c.limits.dialTimeoutMs }), '"limits.dialTimeoutMs"')
      rejects(edited(c => { delete c.addresses.announce }), '"addresses.announce"')
    })

    it('rejects values of the wrong type', () => {
      rejects(edited(c => { c.swarm = 5 }), 'swarm')
      rejects(edited(c => { c.swarm = '' }), 'swarm')
      rejects(edited(c => { c.api = '127.0.0.1:5080' }), 'api')
      rejects(edited(c => { c.store = null }), 'store')
      rejects(edited(c => { c.limits.maxConnections = '300' }), 'limits.maxConnections')
      rejects(edited(c => { c.limits.maxConnections = 0 }), 'limits.maxConnections')
      rejects(edited(c => { c.limits.dialTimeoutMs = 1.5 }), 'limits.dialTimeoutMs')
      rejects(edited(c => { c.store.fsync = 'yes' }), 'store.fsync')
      rejects(edited(c => { c.dht.clientMode = 1 }), 'dht.clientMode')
      rejects(edited(c => { c.dht.peerAddresses = 'lan' }), 'dht.peerAddresses')
      rejects(edited(c => { c.addresses.listen = '/ip4/0.0.0.0/tcp/4001' }), 'addresses.listen')
    })

    it('checks the nat and relay keys: CIDRs, the DHT mode, relay limits where 0 is no limit', () => {
      for (const mode of ['auto', true, false]) validateConfig(edited(c => { c.dht.clientMode = mode }), SOURCE)
      rejects(edited(c => { c.dht.clientMode = 'server' }), 'dht.clientMode')
      validateConfig(edited(c => { c.nat.publicRanges = ['10.77.0.0/24', 'fd00::/8', '203.0.113.7/32'] }), SOURCE)
      rejects(edited(c => { c.nat.publicRanges = ['10.77.0.0'] }), 'nat.publicRanges')
      rejects(edited(c => { c.nat.publicRanges = ['10.77.0.0/33'] }), 'nat.publicRanges')
      rejects(edited(c => { c.nat.publicRanges = ['lab/24'] }), 'nat.publicRanges')
      rejects(edited(c => { c.nat.publicRanges = '10.77.0.0/24' }), 'nat.publicRanges')
      rejects(edited(c => { c.nat.upnp = 'on' }), 'nat.upnp')
      validateConfig(edited(c => { c.relay.circuitBytes = 0; c.relay.circuitDurationMs = 0 }), SOURCE)
      rejects(edited(c => { c.relay.circuitBytes = -1 }), 'relay.circuitBytes')
      rejects(edited(c => { c.relay.circuitDurationMs = 2 ** 31 }), 'relay.circuitDurationMs')
      rejects(edited(c => { c.relay.maxReservations = 0 }), 'relay.maxReservations')
      rejects(edited(c => { c.relay.relays = ['10.0.0.1:4001'] }), 'relay.relays')
      rejects(edited(c => { c.relay.client = 1 }), 'relay.client')
      rejects(edited(c => { delete c.relay.service }), '"relay.service"')
    })

    it('takes encrypters in any order, at least one, each known and none twice', () => {
      for (const list of [['tls', 'noise'], ['noise', 'tls'], ['noise'], ['tls']]) {
        assert.deepEqual(validateConfig(edited(c => { c.encrypters = list }), SOURCE).encrypters, list)
      }
      rejects(edited(c => { c.encrypters = [] }), 'encrypters')
      rejects(edited(c => { c.encrypters = ['tls', 'plaintext'] }), 'encrypters')
      rejects(edited(c => { c.encrypters = ['noise', 'noise'] }), 'encrypters')
      rejects(edited(c => { c.encrypters = 'tls' }), 'encrypters')
    })

    it('rejects what is not a multiaddr in shape, naming the key', () => {
      rejects(edited(c => { c.bootstrap = ['127.0.0.1:4001'] }), 'bootstrap')
      rejects(edited(c => { c.bootstrap = [4001] }), 'bootstrap')
      rejects(edited(c => { c.addresses.listen = 'ip4/0.0.0.0/tcp/4001' }), 'addresses.listen')
    })

    it('checkAddresses parses every multiaddr as the peer goes online, naming the key', async () => {
      const refused = async (c: any, key: string): Promise<void> => {
        await assert.rejects(checkAddresses(validateConfig(c, SOURCE), SOURCE), (err: any) => {
          assert.equal(err.name, 'InvalidConfigError')
          assert.ok(err.message.startsWith(`${SOURCE}: ${key} `), err.message)
          return true
        })
      }
      await refused(edited(c => { c.addresses.listen = ['/ip4/0.0.0.0/tcp/4001', '/not/a/multiaddr'] }), 'addresses.listen')
      await refused(edited(c => { c.addresses.announce = ['/ip4/999.1.1.1/tcp/1'] }), 'addresses.announce')
      await refused(edited(c => { c.bootstrap = ['/ip4/127.0.0.1/tcp/4001'] }), 'bootstrap')
      await checkAddresses(validateConfig(edited(c => { c.bootstrap = ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWLPAbDz64iBY8w2Sy8gWgj4yqLnBPDbvMr8UM8kf51BLe'] }), SOURCE), SOURCE)
    })

    it('rejects a control API address that is not loopback or not HOST:PORT', () => {
      for (const address of ['0.0.0.0:5080', '192.168.1.10:5080', '[::]:5080', 'example.com:5080']) {
        rejects(edited(c => { c.api.address = address }), 'api.address')
      }
      for (const address of ['127.0.0.1', '127.0.0.1:65536', '::1:5080', '127.0.0.1:port', '']) {
        rejects(edited(c => { c.api.address = address }), 'api.address')
      }
    })

    it('refuses bitswap off in the IPFS DHT, where every IPFS node may ask for what it provides', () => {
      rejects(edited(c => { c.dht.protocol = '/ipfs/kad/1.0.0'; c.exchange.bitswap = false }), 'exchange.bitswap')
      assert.doesNotThrow(() => validateConfig(edited(c => { c.exchange.bitswap = false }), SOURCE))
    })

    it('rejects an unknown import profile', () => {
      rejects(edited(c => { c.publish.profile = 'unixfs-v2-2030' }), 'publish.profile')
    })
  })

  describe('parseConfig', () => {
    it('names the source when the text is not JSON', () => {
      assert.throws(() => parseConfig('{"swarm":', SOURCE), (err: any) => {
        assert.equal(err.name, 'InvalidConfigError')
        assert.ok(err.message.includes(SOURCE))
        return true
      })
    })

    it('parses and validates valid text', () => {
      assert.deepEqual(parseConfig(JSON.stringify(base), SOURCE), base)
    })
  })

  describe('parseHostPort', () => {
    it('parses IPv4 with port 0 and bracketed IPv6', () => {
      assert.deepEqual(parseHostPort('127.0.0.1:0', 'api'), { host: '127.0.0.1', port: 0 })
      assert.deepEqual(parseHostPort('[::1]:5080', 'api'), { host: '::1', port: 5080 })
      assert.deepEqual(parseHostPort('localhost:65535', 'api'), { host: 'localhost', port: 65535 })
      assert.deepEqual(parseHostPort('127.8.9.10:80', 'api'), { host: '127.8.9.10', port: 80 })
    })

    it('rejects malformed and non-loopback addresses, naming what was parsed', () => {
      for (const value of ['127.0.0.1', ':5080', '127.0.0.1:99999', '::1:5080', '[::1]', '10.0.0.1:5080', '[::2]:5080']) {
        assert.throws(() => parseHostPort(value, '--api'), (err: any) => {
          assert.ok(err.message.startsWith('--api must be'), err.message)
          return true
        }, value)
      }
    })
  })
})
