/**
 * Lab: UPnP IGD / NAT-PMP. A peer behind a port-preserving NAT whose router runs miniupnpd (with
 * the lab's STUN server, see igd.ts) asks it to forward its port, and two peers on the lab's
 * internet: a DHT server it bootstraps from, and a fetcher. The lab's internet counts as public
 * (`nat.publicRanges`).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { lastJson } from '../helpers/cli.js'
import { waitFor } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import { hasMiniupnpd } from './igd.js'
import { LAB_PORT, Lab, labNamespaces, labNat, requireLab } from './lab.js'

const exec = promisify(execFile)
const MiB = 1024 * 1024
const SERVER = 0
const FETCHER = 1
const MAPPED = 2
const PMP = 3

/** No relays in this lab: a peer is reachable through its mapping or not at all */
function natConfig (c: any): void {
  labNat(c)
  c.relay.client = false
}

describe('lab: a peer behind a UPnP router', function () {
  this.timeout(300_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let lab: Lab | undefined

  const cli = async (i: number, args: string[]): Promise<any> => {
    const r = await lab!.cli(i, ['--json', ...args], { timeoutMs: 120_000 })
    assert.equal(r.code, 0, r.stderr.split('\n').slice(-5).join('\n'))
    return lastJson(r.stdout)
  }
  /** The DNAT rules miniupnpd holds for the mapped peer's router */
  const forwarded = async (): Promise<string> => {
    const { stdout } = await exec('ip', ['netns', 'exec', lab!.hosts[MAPPED].router!.ns, 'nft', 'list', 'chain', 'inet', 'filter', 'prerouting_miniupnpd'])
    return stdout
  }

  before(async function () {
    await requireLab(this)
    if (!await hasMiniupnpd()) {
      if (process.env.SHOAL_LAB_REQUIRED === '1') throw new Error('the lab is required here (SHOAL_LAB_REQUIRED=1) but miniupnpd is not installed')
      process.stderr.write('      lab skipped: miniupnpd is not installed (apt-get install miniupnpd-nftables)\n')
      this.skip()
    }
    tmp = await tmpDir('shoal-lab-upnp-')
    lab = await Lab.create({ dir: path.join(tmp.dir, 'lab'), hosts: 2 })
    await lab.addHost({}, { nat: 'port-preserving', upnp: true })
    await lab.addHost({}, { nat: 'symmetric', upnp: 'nat-pmp' })
    const server = await lab.start(SERVER, c => { natConfig(c); c.dht.clientMode = false })
    await lab.start(FETCHER, c => { natConfig(c); c.bootstrap = [server.address] })
    for (const i of [MAPPED, PMP]) await lab.start(i, c => { natConfig(c); c.nat.upnp = true; c.bootstrap = [server.address] })
  })
  after(async () => {
    await lab?.destroy()
    await tmp?.cleanup()
    if (lab != null) assert.deepEqual(await labNamespaces(), [], 'every namespace of the lab is gone')
  })

  it('maps its port, finds itself public at the router\'s outside address, and serves the DHT', async () => {
    const outside = `${lab!.hosts[MAPPED].router!.wanIp}:${LAB_PORT}`
    const t0 = Date.now()
    await waitFor(async () => (await cli(MAPPED, ['id'])).reachability === 'public', 60_000, 'the peer behind the UPnP router to find itself public')
    const publicMs = Date.now() - t0
    const stats = await cli(MAPPED, ['stats'])
    assert.deepEqual(stats.network.portMapping.mapped, [outside], JSON.stringify(stats.network.portMapping))
    assert.match(stats.network.portMapping.gateway, /^(upnp|nat-pmp):10\.78\./)
    const rules = await forwarded()
    assert.match(rules, new RegExp(`dport ${LAB_PORT} dnat ip to ${lab!.hosts[MAPPED].ip.replaceAll('.', '\\.')}:${LAB_PORT}`), `the router forwards the port: ${rules}`)
    const me = await cli(MAPPED, ['id'])
    assert.ok(me.addresses.some((a: string) => a.startsWith(`/ip4/${lab!.hosts[MAPPED].router!.wanIp}/tcp/${LAB_PORT}/`)), me.addresses.join(' '))
    assert.ok(me.addresses.every((a: string) => !a.startsWith(`/ip4/${lab!.hosts[MAPPED].ip}/`)), `it announces its inside address: ${me.addresses.join(' ')}`)
    await waitFor(async () => (await cli(MAPPED, ['id'])).dht === 'server', 10_000, 'the mapped peer to serve the DHT')
    process.stderr.write(`      public through UPnP after ${publicMs} ms\n`)
  })

  it('a peer outside dials it at the mapped address and fetches 4 MiB from it, byte-identical', async () => {
    const bytes = randomBytes(4 * MiB)
    const file = path.join(tmp.dir, 'mapped.bin')
    await fs.writeFile(file, bytes)
    const { cid } = await cli(MAPPED, ['publish', file])
    const id = lab!.hosts[MAPPED].daemon!.peerId
    // a new connection from outside: through the router's forwarded port, nothing else
    await cli(FETCHER, ['connect', `/ip4/${lab!.hosts[MAPPED].router!.wanIp}/tcp/${LAB_PORT}/p2p/${id}`])
    await cli(FETCHER, ['fetch', cid])
    const out = path.join(tmp.dir, 'got.bin')
    const got = await lab!.cli(FETCHER, ['get', cid, '-o', out])
    assert.equal(got.code, 0, got.stderr)
    assert.ok((await fs.readFile(out)).equals(bytes), 'byte-identical')
    // a DHT server: the reachable peers hold it in their routing tables
    await waitFor(async () => (await cli(SERVER, ['peers'])).peers.some((p: any) => p.peerId === id && p.dhtServer === true), 30_000, 'the DHT server to hold the mapped peer in its routing table')
  })

  it('behind a router with NAT-PMP only (and a symmetric NAT), maps its port over NAT-PMP', async () => {
    await waitFor(async () => (await cli(PMP, ['id'])).reachability === 'public', 60_000, 'the peer behind the NAT-PMP router to find itself public')
    const { portMapping } = (await cli(PMP, ['stats'])).network
    assert.match(portMapping.gateway, /^nat-pmp:10\.78\./, JSON.stringify(portMapping))
    assert.deepEqual(portMapping.mapped, [`${lab!.hosts[PMP].router!.wanIp}:${LAB_PORT}`])
    // dialled from outside at that address
    await cli(FETCHER, ['connect', `/ip4/${lab!.hosts[PMP].router!.wanIp}/tcp/${LAB_PORT}/p2p/${lab!.hosts[PMP].daemon!.peerId}`])
  })

  it('removes its mapping when it stops', async () => {
    await lab!.hosts[MAPPED].daemon!.stop()
    assert.doesNotMatch(await forwarded(), /dnat/, 'the router no longer forwards the port')
  })
})
