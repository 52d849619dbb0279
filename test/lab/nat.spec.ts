/**
 * Lab: NAT. A relay with unlimited circuits and a public peer on the lab's "internet", a peer
 * behind a port-preserving NAT and one behind a symmetric NAT, each on a subnet of its own behind
 * a router namespace. The lab's internet range counts as public (`nat.publicRanges`).
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { lastJson } from '../helpers/cli.js'
import { waitFor } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import { Lab, labNamespaces, labNat, requireLab, ROUTABLE_SUBNET } from './lab.js'

const MiB = 1024 * 1024
const RELAY = 0
const RELAY2 = 1
const PUBLIC = 2
const NATED = 3
const SYMMETRIC = 4

/** A swarm relay: reachable, unlimited circuits, a DHT server */
function relayConfig (c: any, lab: Lab): void {
  labNat(c, lab)
  c.relay.client = false
  c.relay.service = true
  c.relay.circuitBytes = 0
  c.relay.circuitDurationMs = 0
  c.dht.clientMode = false
}

describe('lab: NAT traversal', function () {
  this.timeout(300_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let lab: Lab | undefined
  let relays: string[] = []

  const id = async (i: number): Promise<any> => {
    const r = await lab!.cli(i, ['--json', 'id'])
    assert.equal(r.code, 0, r.stderr)
    return lastJson(r.stdout)
  }

  const publish = async (i: number, size: number): Promise<{ cid: string, bytes: Buffer }> => {
    const bytes = randomBytes(size)
    const file = path.join(tmp.dir, `pub-${i}-${Date.now()}.bin`)
    await fs.writeFile(file, bytes)
    const r = await lab!.cli(i, ['--json', 'publish', file])
    assert.equal(r.code, 0, r.stderr)
    return { cid: lastJson(r.stdout).cid, bytes }
  }

  /** Fetch on host i, check the bytes, and say over which connection the holder was reached */
  const fetchFrom = async (i: number, holder: number, cid: string, bytes: Buffer): Promise<string> => {
    const fetched = await lab!.cli(i, ['--json', 'fetch', cid], { timeoutMs: 120_000 })
    assert.equal(fetched.code, 0, fetched.stderr.split('\n').slice(-5).join('\n'))
    const out = path.join(tmp.dir, `got-${i}-${cid.slice(-8)}.bin`)
    const got = await lab!.cli(i, ['get', cid, '-o', out])
    assert.equal(got.code, 0, got.stderr)
    assert.ok((await fs.readFile(out)).equals(bytes), 'byte-identical')
    const peers = lastJson((await lab!.cli(i, ['--json', 'peers'])).stdout).peers
    const conn = peers.find((p: any) => p.peerId === lab!.hosts[holder].daemon!.peerId)
    return conn == null ? 'no longer connected' : conn.addresses.join(' ')
  }

  /** Host i's metrics, as Prometheus text */
  const metrics = async (i: number): Promise<string> => {
    const api = lab!.hosts[i].daemon!.api
    const { child, ready } = await lab!.spawnNode(i, '-e', [`fetch('http://${api}/metrics').then(r => r.text()).then(t => console.log(JSON.stringify({ t })))`])
    child.kill()
    return ready.t
  }

  /** Bytes host i relayed for others, from its metrics (libp2p counts each protocol's streams) */
  const relayedBytes = async (i: number): Promise<number> => {
    let sum = 0
    for (const m of (await metrics(i)).matchAll(/^libp2p_data_transfer_bytes_total\{protocol="\/libp2p\/circuit\/relay\/0\.2\.0\/(?:hop|stop) (?:sent|received)"\} (\d+)/gm)) sum += Number(m[1])
    return sum
  }

  before(async function () {
    await requireLab(this)
    tmp = await tmpDir('shoal-lab-nat-')
    // the lab's internet in a global range, as the internet's is: AutoNAT v2 and DCUtR only work
    // with such addresses
    lab = await Lab.create({ dir: path.join(tmp.dir, 'lab'), hosts: 3, subnet: ROUTABLE_SUBNET })
    for (const note of lab.notes) process.stderr.write(`      lab: ${note}\n`)
    await lab.addHost({}, { nat: 'port-preserving' })
    await lab.addHost({}, { nat: 'symmetric' })
    const relay = await lab.start(RELAY, c => { relayConfig(c, lab!) })
    const relay2 = await lab.start(RELAY2, c => { relayConfig(c, lab!); c.bootstrap = [relay.address] })
    relays = [relay.address, relay2.address]
    await lab.start(PUBLIC, c => { labNat(c, lab); c.relay.client = false; c.bootstrap = [relay.address] })
    for (const i of [NATED, SYMMETRIC]) {
      await lab.start(i, c => {
        labNat(c, lab)
        c.relay.client = true
        c.relay.relays = relays
        c.bootstrap = [relay.address]
        // the peer behind the symmetric NAT replicates what is announced with the tag "nat"
        if (i === SYMMETRIC) c.replicate = { ...c.replicate, enabled: true, tags: ['nat'], maxFileSize: 0, maxTotalBytes: 0 }
      })
    }
  })
  after(async () => {
    await lab?.destroy()
    await tmp?.cleanup()
    if (lab != null) assert.deepEqual(await labNamespaces(), [], 'every namespace of the lab is gone')
  })

  it('a NATed peer finds itself private and announces relay addresses only; a peer on the internet finds itself public', async () => {
    const t0 = Date.now()
    for (const i of [NATED, SYMMETRIC]) {
      await waitFor(async () => (await id(i)).reachability === 'private', 30_000, `host ${i} to find itself private`)
    }
    const verdictMs = Date.now() - t0
    await waitFor(async () => (await id(PUBLIC)).reachability === 'public', 30_000, 'the public host to find itself public')
    for (const i of [NATED, SYMMETRIC]) {
      await waitFor(async () => (await id(i)).relays.length > 0, 30_000, `host ${i} to hold a relay reservation`)
      const me = await id(i)
      assert.ok(me.addresses.length > 0, 'it announces an address')
      for (const a of me.addresses) assert.match(a, /\/p2p-circuit\/p2p\//, `host ${i} announces ${a}, which nobody outside its NAT can dial`)
      assert.ok(me.relays.every((r: string) => relays.some(a => a.endsWith(r))), 'its relays are the swarm relays')
    }
    // a DHT server only while public: a NATed peer never offers itself as one nobody can dial
    for (const i of [NATED, SYMMETRIC]) assert.equal((await id(i)).dht, 'client', `host ${i} runs the DHT as a client`)
    await waitFor(async () => (await id(PUBLIC)).dht === 'server', 10_000, 'the public host to serve the DHT')
    const pub = await id(PUBLIC)
    assert.ok(pub.addresses.some((a: string) => a.startsWith(`/ip4/${lab!.hosts[PUBLIC].ip}/tcp/`)), pub.addresses.join(' '))
    assert.ok(pub.addresses.every((a: string) => !a.includes('/p2p-circuit')))
    // AutoNAT v2: a relay dialled the public peer back at its address, and its stats say so; no
    // address of a NATed peer was confirmed (what could fail: a private transport address, which
    // libp2p holds verified without asking, counted as confirmed)
    const stats = async (i: number): Promise<any> => lastJson((await lab!.cli(i, ['--json', 'stats'])).stdout)
    await waitFor(async () => (await stats(PUBLIC)).network.confirmed.includes(lab!.hosts[PUBLIC].ip), 30_000, 'AutoNAT v2 to confirm the public peer\'s address')
    for (const i of [NATED, SYMMETRIC]) assert.deepEqual((await stats(i)).network.confirmed, [], `host ${i} has no confirmed address`)
    process.stderr.write(`      NATed peers private after ${verdictMs} ms\n`)
    assert.match(await metrics(NATED), /^shoal_reachability\{verdict="private"\} 1$/m)
    assert.match(await metrics(PUBLIC), /^shoal_reachability\{verdict="public"\} 1$/m)
  })

  it('a public peer fetches 16 MiB a NATed peer published, byte-identical', async () => {
    const { cid, bytes } = await publish(NATED, 16 * MiB)
    // its provider record carries only addresses others can dial: its relay addresses. (The
    // provide at publish can go out before its routing table holds a server: provide again.)
    let record: any
    await waitFor(async () => {
      const provided = await lab!.cli(NATED, ['--json', 'provide', cid])
      if (provided.code !== 0 || lastJson(provided.stdout).accepted === 0) return false
      const found = await lab!.cli(PUBLIC, ['--json', 'find', cid, '--timeout', '10'])
      record = found.code === 0 ? lastJson(found.stdout).providers.find((p: any) => p.peerId === lab!.hosts[NATED].daemon!.peerId) : undefined
      return record != null
    }, 60_000, 'the public peer to find the NATed peer\'s provider record')
    assert.ok(record.addresses.length > 0 && record.addresses.every((a: string) => a.includes('/p2p-circuit')), record.addresses.join(' '))
    const via = await fetchFrom(PUBLIC, NATED, cid, bytes)
    process.stderr.write(`      public <- NATed over ${via}\n`)
  })

  it('two peers behind different NATs exchange 16 MiB through a relay with unlimited circuits', async () => {
    const { cid, bytes } = await publish(NATED, 16 * MiB)
    const via = await fetchFrom(SYMMETRIC, NATED, cid, bytes)
    process.stderr.write(`      symmetric <- port-preserving over ${via}\n`)
    assert.match(via, /\/p2p-circuit/, 'neither NAT lets the other in: the relay carried it')
    // it may have been connected through both relays: they count what they carried together
    const relayed = await relayedBytes(RELAY) + await relayedBytes(RELAY2)
    process.stderr.write(`      the relay's metrics count ${relayed} bytes relayed\n`)
    assert.ok(relayed >= 16 * MiB, `the relay counted ${relayed} bytes; 16 MiB crossed it`)
  })

  it('cat and the gateway work between two peers behind different NATs, through the relay', async () => {
    const publishText = async (i: number): Promise<{ cid: string, text: string }> => {
      const text = randomBytes(512 * 1024).toString('hex')
      const file = path.join(tmp.dir, `text-${i}-${Date.now()}.txt`)
      await fs.writeFile(file, text)
      const r = await lab!.cli(i, ['--json', 'publish', file])
      assert.equal(r.code, 0, r.stderr)
      return { cid: lastJson(r.stdout).cid, text }
    }
    const one = await publishText(SYMMETRIC)
    const cat = await lab!.cli(NATED, ['cat', one.cid], { timeoutMs: 120_000 })
    assert.equal(cat.code, 0, cat.stderr.split('\n').slice(-5).join('\n'))
    assert.ok(cat.stdout === one.text, `cat gave ${cat.stdout.length} bytes of ${one.text.length}, or other bytes`)
    // the gateway on the NATed peer's loopback, asked from inside its namespace
    const two = await publishText(SYMMETRIC)
    const gateway = lab!.hosts[NATED].daemon!.gateway
    assert.ok(gateway != null, 'the lab\'s daemons serve a gateway')
    const script = `fetch('http://${gateway}/ipfs/${two.cid}').then(async r => console.log(JSON.stringify({ status: r.status, sha: require('node:crypto').createHash('sha256').update(Buffer.from(await r.arrayBuffer())).digest('hex') })))`
    const { child, ready } = await lab!.spawnNode(NATED, '-e', [script])
    child.kill()
    assert.equal(ready.status, 200)
    assert.equal(ready.sha, createHash('sha256').update(two.text).digest('hex'), 'the gateway served the same bytes')
  })

  it('replication between two peers behind different NATs: an announced file is fetched and pinned through the relay', async () => {
    const bytes = randomBytes(4 * MiB)
    const file = path.join(tmp.dir, `tagged-${Date.now()}.bin`)
    await fs.writeFile(file, bytes)
    const r = await lab!.cli(NATED, ['--json', 'publish', file, '--tag', 'nat'])
    assert.equal(r.code, 0, r.stderr)
    const { cid } = lastJson(r.stdout)
    await waitFor(async () => {
      const pins = await lab!.cli(SYMMETRIC, ['--json', 'pin', 'ls'])
      return pins.code === 0 && lastJson(pins.stdout).pins.some((p: any) => p.cid === cid)
    }, 60_000, 'the replicating peer to pin the announced file')
    const out = path.join(tmp.dir, `replica-${cid.slice(-8)}.bin`)
    const got = await lab!.cli(SYMMETRIC, ['get', cid, '-o', out])
    assert.equal(got.code, 0, got.stderr)
    assert.ok((await fs.readFile(out)).equals(bytes), 'byte-identical')
  })

  it('a NATed peer never enters a reachable peer\'s DHT routing table; the reachable ones hold each other', async () => {
    const nated = [NATED, SYMMETRIC].map(i => lab!.hosts[i].daemon!.peerId)
    const peers = async (i: number): Promise<any[]> => lastJson((await lab!.cli(i, ['--json', 'peers'])).stdout).peers
    // what could fail: a reachable peer that lists a reachable one as a server sees the DHT
    await waitFor(async () => (await peers(RELAY)).some(p => p.peerId === lab!.hosts[PUBLIC].daemon!.peerId && p.dhtServer === true), 30_000, 'the relay to hold the public peer in its routing table')
    for (const i of [RELAY, RELAY2, PUBLIC]) {
      const seen = await peers(i)
      for (const p of seen.filter(p => nated.includes(p.peerId))) {
        assert.equal(p.dhtServer, false, `host ${i} holds NATed peer ${p.peerId} in its routing table`)
      }
    }
    // the relays hold reservations for the NATed peers, so they are connected and were looked at
    assert.ok((await peers(RELAY)).some(p => nated.includes(p.peerId)) || (await peers(RELAY2)).some(p => nated.includes(p.peerId)), 'a relay is connected to a NATed peer')
  })

  it('a NATed peer with no relay configured reserves on a swarm member that offers the service', async () => {
    const host = await lab!.addHost({}, { nat: 'port-preserving' })
    await lab!.start(host.index, c => { labNat(c, lab); c.relay.client = true; c.relay.relays = []; c.bootstrap = [relays[0]] })
    let seen: any
    await waitFor(async () => {
      seen = await id(host.index)
      return seen.reachability === 'private' && seen.relays.length > 0
    }, 30_000, 'the peer to find itself private and hold a reservation on a relay it found')
    const relayIds = [RELAY, RELAY2].map(i => lab!.hosts[i].daemon!.peerId)
    assert.ok(seen.relays.every((r: string) => relayIds.includes(r)), `reserved on ${String(seen.relays)}`)
    assert.ok(seen.addresses.length > 0 && seen.addresses.every((a: string) => a.includes('/p2p-circuit')), seen.addresses.join(' '))
    await lab!.hosts[host.index].daemon!.stop()
  })

  it('the relay dies: the NATed peer holds a reservation on the other relay within 10 s and stays fetchable', async () => {
    // at load a reservation can be between renewals for a moment: wait for one to be held
    let before: string[] = []
    await waitFor(async () => (before = (await id(NATED)).relays as string[]).length >= 1, 30_000, 'the NATed peer to hold a reservation')
    const dying = [RELAY, RELAY2].find(i => lab!.hosts[i].daemon!.peerId === before[0])!
    const other = dying === RELAY ? RELAY2 : RELAY
    const t0 = Date.now()
    await lab!.hosts[dying].daemon!.stop('SIGKILL')
    await waitFor(async () => (await id(NATED)).relays.includes(lab!.hosts[other].daemon!.peerId), 10_000, 'a reservation on the other relay')
    process.stderr.write(`      new reservation ${Date.now() - t0} ms after the relay died\n`)
    const { cid, bytes } = await publish(NATED, 4 * MiB)
    await fetchFrom(PUBLIC, NATED, cid, bytes)
  })
})

describe('lab: NAT traversal through a relay with default limits (128 KiB per circuit)', function () {
  this.timeout(300_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let lab: Lab | undefined
  const [LIMITED, PUB, A, B] = [0, 1, 2, 3]

  before(async function () {
    await requireLab(this)
    tmp = await tmpDir('shoal-lab-nat-')
    lab = await Lab.create({ dir: path.join(tmp.dir, 'lab'), hosts: 2 })
    await lab.addHost({}, { nat: 'port-preserving' })
    await lab.addHost({}, { nat: 'symmetric' })
    // the relay keeps the default limits of configs/default.json
    const relay = await lab.start(LIMITED, c => { relayConfig(c, lab!); c.relay.circuitBytes = 131072; c.relay.circuitDurationMs = 120_000 })
    await lab.start(PUB, c => { labNat(c, lab); c.relay.client = false; c.bootstrap = [relay.address] })
    for (const i of [A, B]) {
      await lab.start(i, c => { labNat(c, lab); c.relay.client = true; c.relay.relays = [relay.address]; c.bootstrap = [relay.address] })
    }
    for (const i of [A, B]) {
      await waitFor(async () => lastJson((await lab!.cli(i, ['--json', 'id'])).stdout).relays.length > 0, 30_000, `host ${i} to hold a reservation`)
    }
  })
  after(async () => {
    await lab?.destroy()
    await tmp?.cleanup()
    if (lab != null) assert.deepEqual(await labNamespaces(), [], 'every namespace of the lab is gone')
  })

  const publish = async (i: number, size: number): Promise<{ cid: string, bytes: Buffer }> => {
    const bytes = randomBytes(size)
    const file = path.join(tmp.dir, `pub-${i}-${Date.now()}.bin`)
    await fs.writeFile(file, bytes)
    const r = await lab!.cli(i, ['--json', 'publish', file])
    assert.equal(r.code, 0, r.stderr)
    return { cid: lastJson(r.stdout).cid, bytes }
  }

  it('a public peer fetches 16 MiB from a NATed one over a direct connection, not the limited relay', async () => {
    const { cid, bytes } = await publish(A, 16 * MiB)
    const r = await lab!.cli(PUB, ['--json', 'fetch', cid], { timeoutMs: 120_000 })
    assert.equal(r.code, 0, r.stderr.split('\n').slice(-5).join('\n'))
    const out = path.join(tmp.dir, 'pub-got.bin')
    assert.equal((await lab!.cli(PUB, ['get', cid, '-o', out])).code, 0)
    assert.ok((await fs.readFile(out)).equals(bytes), 'byte-identical')
    const peers = lastJson((await lab!.cli(PUB, ['--json', 'peers'])).stdout).peers
    const conn = peers.find((p: any) => p.peerId === lab!.hosts[A].daemon!.peerId)
    process.stderr.write(`      public <- NATed over ${conn?.addresses.join(' ') ?? 'no connection left'}\n`)
    assert.ok(conn == null || conn.addresses.some((a: string) => !a.includes('/p2p-circuit')))
  })

  /** Blocks host `i` refused to send because they did not fit a relayed connection's budget */
  const overBudget = async (i: number): Promise<number> => lastJson((await lab!.cli(i, ['--json', 'stats'])).stdout).exchange.server.overBudget

  // B reaches A only through the DHT: the provide at publish runs in the background and can
  // come after B looks, so A provides until B finds the record (as in the first scenario)
  const providedTo = async (cid: string): Promise<void> => {
    await waitFor(async () => {
      const provided = await lab!.cli(A, ['--json', 'provide', cid])
      if (provided.code !== 0 || lastJson(provided.stdout).accepted === 0) return false
      const found = await lab!.cli(B, ['--json', 'find', cid, '--timeout', '10'])
      return found.code === 0 && lastJson(found.stdout).providers.some((p: any) => p.peerId === lab!.hosts[A].daemon!.peerId)
    }, 60_000, 'the second NATed peer to find the first one\'s provider record')
  }

  it('two NATed peers: a file within the circuit\'s budget comes whole, over the limited relay when no direct connection exists', async () => {
    const { cid, bytes } = await publish(A, 40 * 1024)
    await providedTo(cid)
    const r = await lab!.cli(B, ['--json', 'fetch', cid], { timeoutMs: 60_000 })
    assert.equal(r.code, 0, r.stderr.split('\n').slice(-5).join('\n'))
    const out = path.join(tmp.dir, 'b-small.bin')
    assert.equal((await lab!.cli(B, ['get', cid, '-o', out])).code, 0)
    assert.ok((await fs.readFile(out)).equals(bytes), 'byte-identical')
    const peers = lastJson((await lab!.cli(B, ['--json', 'peers'])).stdout).peers
    const conn = peers.find((p: any) => p.peerId === lab!.hosts[A].daemon!.peerId)
    process.stderr.write(`      symmetric <- port-preserving, 40 KiB: fetched in ${lastJson(r.stdout).durationMs} ms; connected over ${conn?.addresses.join(' ') ?? 'nothing'}\n`)
    assert.equal(await overBudget(A), 0, 'every block fitted the circuit: none was refused')
  })

  it('two NATed peers: fetched directly if the connection was upgraded, else a one-line error naming the peer, the relay and its limit', async () => {
    const { cid, bytes } = await publish(A, 16 * MiB)
    await providedTo(cid)
    const r = await lab!.cli(B, ['--json', 'fetch', cid], { timeoutMs: 120_000 })
    if (r.code === 0) {
      const out = path.join(tmp.dir, 'b-got.bin')
      assert.equal((await lab!.cli(B, ['get', cid, '-o', out])).code, 0)
      assert.ok((await fs.readFile(out)).equals(bytes), 'byte-identical')
      process.stderr.write('      symmetric <- port-preserving: the connection was upgraded to a direct one\n')
      return
    }
    const message = r.stderr.trim().split('\n').filter(l => l.startsWith('shoal: ')).at(-1) ?? ''
    process.stderr.write(`      symmetric <- port-preserving failed as it should: ${message.slice(0, 200)}…\n`)
    const relayId = lab!.hosts[LIMITED].daemon!.peerId
    assert.match(message, new RegExp(`^shoal: ${lab!.hosts[A].daemon!.peerId} is behind a NAT and reachable only through relay ${relayId}, which allows 128 KiB per circuit`))
    // the root crossed the circuit; the first 1 MiB leaf was refused before it could overrun it
    assert.ok(await overBudget(A) >= 1, 'the serving peer refused a block that did not fit the circuit')
  })

  it('a peer that reaches none of its bootstrap peers says what failed, and keeps trying', async () => {
    const alone = await lab!.addHost()
    // a host that refuses the port, and an address no host holds (two peer ids: libp2p dials a
    // peer at every address it knows for it)
    const list = [`/ip4/${lab!.hosts[PUB].ip}/tcp/4999/p2p/${lab!.hosts[PUB].daemon!.peerId}`, `/ip4/${lab!.subnet}199/tcp/4001/p2p/${lab!.hosts[LIMITED].daemon!.peerId}`]
    await lab!.start(alone.index, c => { labNat(c, lab); c.relay.client = false; c.bootstrap = list })
    let problem = ''
    await waitFor(async () => {
      problem = lastJson((await lab!.cli(alone.index, ['--json', 'id'])).stdout).bootstrap ?? ''
      return problem.includes('refused') && /no route|timed out/.test(problem)
    }, 60_000, 'the peer to say why no bootstrap peer answered')
    process.stderr.write(`      ${problem}\n`)
    assert.match(problem, /^none of 2 bootstrap peer\(s\) answered \((1 refused, 1 (no route|timed out)|1 (no route|timed out), 1 refused)\); trying again in \d+ s$/)
    const status = await lab!.cli(alone.index, ['status', 'bafkqaaa'])
    assert.ok(status.stdout.includes(`bootstrap: ${problem.split(';')[0]}`), status.stdout)
    const peers = await lab!.cli(alone.index, ['peers'])
    assert.ok(peers.stdout.includes(`bootstrap: ${problem.split(';')[0]}`), peers.stdout)
    // and its log (the daemon's stderr) says it, a line per round while the wait grows
    const daemon = lab!.hosts[alone.index].daemon!
    await waitFor(async () => daemon.stderr().includes(`shoal: bootstrap: ${problem.split(';')[0]}`), 10_000, 'the daemon to log why no bootstrap peer answered')
  })
})
