/**
 * Property-based fuzzing of a running daemon (a `shoal start` process) through its three doors:
 * control API bodies, gateway paths and headers, and exchange streams. Every request gets a
 * clear answer (a status below 500 with a named JSON error on the API; a documented status on
 * the gateway; a Response or a reset on the exchange), the daemon stays up and serves honest
 * clients, and its memory stays bounded.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import fc from 'fast-check'
import { EXCHANGE_PROTOCOL } from '../../src/constants.js'
import { Request, Response } from '../../src/exchange/message.js'
import { createHost } from '../../src/host/index.js'
import { lastJson, runCli } from '../helpers/cli.js'
import { rssOf } from '../helpers/proc.js'
import { publishRandom, startPeer } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Host } from '../../src/host/index.js'
import type { SpawnedDaemon } from '../helpers/cli.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 300)
const MiB = 1024 * 1024

interface Answer { status: number, headers: http.IncomingHttpHeaders, body: Buffer }

/** One raw HTTP request (no client-side path normalisation); bounded in time and body size */
async function request (address: string, method: string, rawPath: string, headers: Record<string, string>, body?: Uint8Array): Promise<Answer | 'client-refused'> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))]
  return new Promise((resolve, reject) => {
    let req: http.ClientRequest
    try {
      req = http.request({ host, port, method, path: rawPath, headers, timeout: 15_000, agent: false }, (res) => {
        const parts: Buffer[] = []
        let size = 0
        res.on('data', (d: Buffer) => { size += d.byteLength; if (size < 4 * MiB) parts.push(d) })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }) })
        res.on('error', reject)
      })
    } catch {
      // Node's client refuses some paths and headers outright: nothing reached the daemon
      resolve('client-refused'); return
    }
    req.on('timeout', () => { req.destroy(new Error(`no answer to ${method} ${rawPath} within 15 s`)) })
    req.on('error', (err: any) => {
      // a GET with a body is refused by Node's HTTP parser, which closes the connection while a
      // large body is still being sent: the HTTP layer's refusal, not the daemon's
      if (method === 'GET' && (body?.byteLength ?? 0) > 0 && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        resolve('client-refused')
        return
      }
      reject(err)
    })
    req.end(body)
  })
}

describe('fuzz: a running daemon', function () {
  this.timeout(300_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let daemon: SpawnedDaemon
  let token: string
  let cid: string
  let dirCid: string
  let attacker: Host | undefined
  let rssBefore: number

  before(async () => {
    tmp = await tmpDir()
    daemon = await startPeer(path.join(tmp.dir, 'target'), c => { c.gateway.retrievalTimeoutMs = 1000 })
    token = (await fs.readFile(path.join(daemon.repo, 'api.token'), 'utf8')).trim()
    cid = (await publishRandom(daemon, tmp.dir, 3 * MiB, 'file.bin')).cid
    const site = path.join(tmp.dir, 'site')
    await fs.mkdir(path.join(site, 'sub'), { recursive: true })
    await fs.writeFile(path.join(site, 'index.html'), '<p>hi</p>')
    await fs.writeFile(path.join(site, 'sub', 'a.txt'), 'a')
    const r = await runCli(['--repo', daemon.repo, '--json', 'publish', site])
    dirCid = lastJson(r.stdout).cid
    rssBefore = await rssOf(daemon.child.pid!)
  })
  after(async () => {
    await attacker?.stop()
    await daemon?.stop()
    await tmp?.cleanup()
  })

  const alive = (): void => { assert.equal(daemon.child.exitCode, null, `the daemon exited: ${daemon.stderr()}`) }

  it('control API: random calls and bodies get a status below 500 and a named JSON error', async () => {
    const apiSeen = new Map<number | string, number>()
    after(() => { if (process.env.FUZZ_VERBOSE != null) console.log('API statuses', apiSeen) })
    const calls = ['id', 'ls', 'pin/add', 'pin/rm', 'pin/ls', 'cat', 'get', 'car/export', 'verify', 'stats', 'members', 'peers', 'provide', 'nope', '../id', 'publish']
    const cids = fc.constantFrom(cid, dirCid, `${dirCid}/sub/a.txt`, `${dirCid}/nope`, 'bafy', '', '/ipfs/', 'Qm' + 'x'.repeat(44))
    const jsonBody = fc.record({ path: fc.oneof(cids, fc.string()), cid: fc.oneof(cids, fc.string()), offset: fc.oneof(fc.integer(), fc.string(), fc.double()), length: fc.oneof(fc.integer(), fc.constant(null)), name: fc.jsonValue(), scope: fc.string(), drop: fc.constant(false) }, { requiredKeys: [] })
      .map(v => Buffer.from(JSON.stringify(v)))
    const body = fc.oneof(jsonBody, fc.json().map(s => Buffer.from(s)), fc.uint8Array({ maxLength: 512 }).map(b => Buffer.from(b)), fc.constant(Buffer.alloc(70 * 1024, 0x20)))
    await fc.assert(fc.asyncProperty(fc.constantFrom(...calls), fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT'), body, async (call, method, b) => {
      const a = await request(daemon.api, method, `/api/v0/${call}`, { Authorization: `Bearer ${token}`, Host: daemon.api, 'Content-Type': 'application/json' }, b)
      apiSeen.set(a === 'client-refused' ? a : a.status, (apiSeen.get(a === 'client-refused' ? a : a.status) ?? 0) + 1)
      if (a === 'client-refused') return
      assert.ok(a.status < 500, `${method} ${call} ${b.subarray(0, 100).toString()} -> ${a.status} ${a.body.subarray(0, 200).toString()}`)
      // Node's HTTP parser refuses some requests itself (a GET with a chunked body, for one) with a
      // bare 400 and a closed connection, before shoal sees them: that is the HTTP layer's clear error
      if (a.status === 400 && a.body.byteLength === 0 && a.headers.connection === 'close') return
      if (a.status >= 400) {
        const e = JSON.parse(a.body.toString()).error
        assert.ok(typeof e.name === 'string' && e.name !== '' && typeof e.message === 'string' && e.message !== '', a.body.toString())
      }
    }), { numRuns: RUNS })
    alive()
  })

  it('gateway: random paths, queries and headers get a documented status, never a 500', async () => {
    const seg = fc.oneof(fc.constantFrom('sub', 'a.txt', 'index.html', '..', '.', '', '%2e%2e', '%2F', '%00', 'nope'), fc.string({ maxLength: 20 }).map(encodeURIComponent), fc.string({ maxLength: 20 }))
    const root = fc.oneof({ arbitrary: fc.constantFrom(cid, dirCid), weight: 6 }, { arbitrary: fc.constantFrom('bafy', 'Qm', 'z'), weight: 1 }, { arbitrary: fc.string({ maxLength: 70 }).map(encodeURIComponent), weight: 1 })
    const query = fc.oneof(fc.constant(''), fc.record({ format: fc.constantFrom('raw', 'car', 'tar', 'x', ''), filename: fc.string({ maxLength: 20 }), download: fc.constantFrom('true', 'false'), 'dag-scope': fc.constantFrom('all', 'entity', 'block', '?') }, { requiredKeys: [] })
      .map(q => '?' + new URLSearchParams(q as Record<string, string>).toString()))
    const prefix = fc.oneof({ arbitrary: fc.constant('/ipfs/'), weight: 8 }, { arbitrary: fc.constantFrom('/ipns/', '/', '/api/v0/', '//ipfs/'), weight: 1 })
    const segs = fc.oneof({ arbitrary: fc.constant([]), weight: 2 }, { arbitrary: fc.array(fc.constantFrom('sub', 'a.txt', 'index.html'), { maxLength: 2 }), weight: 2 }, { arbitrary: fc.array(seg, { maxLength: 4 }), weight: 2 })
    const rawPath = fc.tuple(prefix, root, segs, fc.boolean(), query).map(([p, r, s, slash, q]) => p + [r, ...s].join('/') + (slash ? '/' : '') + q)
    const range = fc.oneof(fc.string({ maxLength: 40 }), fc.array(fc.tuple(fc.option(fc.nat({ max: 4 * MiB })), fc.option(fc.nat({ max: 4 * MiB }))), { minLength: 1, maxLength: 20 })
      .map(rs => 'bytes=' + rs.map(([x, y]) => `${x ?? ''}-${y ?? ''}`).join(',')))
    const headers = fc.record({
      Range: range,
      'If-None-Match': fc.oneof(fc.constant(`"${cid}"`), fc.string({ maxLength: 40 })),
      'If-Range': fc.string({ maxLength: 40 }),
      Accept: fc.constantFrom('application/vnd.ipld.raw', 'application/vnd.ipld.car', 'application/vnd.ipld.car; version=2', '*/*', 'text/html', 'x')
    }, { requiredKeys: [] })
    const seen = new Map<number | string, number>()
    after(() => { if (process.env.FUZZ_VERBOSE != null) console.log('gateway statuses', seen) })
    const allowed = new Set([200, 206, 301, 304, 400, 404, 405, 406, 412, 416, 429, 501, 504])
    await fc.assert(fc.asyncProperty(fc.constantFrom('GET', 'GET', 'GET', 'GET', 'GET', 'HEAD', 'HEAD', 'POST', 'DELETE'), rawPath, headers, async (method, p, h) => {
      const a = await request(daemon.gateway!, method, p, h as Record<string, string>)
      seen.set(a === 'client-refused' ? a : a.status, (seen.get(a === 'client-refused' ? a : a.status) ?? 0) + 1)
      if (a === 'client-refused') return
      assert.ok(allowed.has(a.status), `${method} ${p} ${JSON.stringify(h)} -> ${a.status} ${a.body.subarray(0, 200).toString()}`)
    }), { numRuns: RUNS })
    alive()
  })

  it('exchange: random and mutated frames on a stream get Responses or a reset; the server goes on serving', async () => {
    attacker = await createHost({
      privateKey: await generateKeyPair('Ed25519'),
      datastorePath: path.join(tmp.dir, 'attacker-ds'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      limits: { maxConnections: 50, maxIncomingPendingConnections: 10, inboundConnectionThreshold: 100, dialTimeoutMs: 5000 },
      dht: { protocol: '/shoal-fuzz/kad/1.0.0', clientMode: true, peerAddresses: 'all' },
      agentVersion: 'shoal-fuzz'
    })
    await attacker.start()
    const target = multiaddr(daemon.addresses[0])
    const { CID } = await import('multiformats/cid')
    const realCid = CID.parse(cid).bytes
    const request = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.record({
        id: fc.nat(),
        have: fc.option(fc.record({ cids: fc.array(fc.oneof(fc.constant(realCid), fc.uint8Array({ maxLength: 40 })), { maxLength: 5 }) }), { nil: undefined }),
        want: fc.option(fc.record({ cid: fc.oneof(fc.constant(realCid), fc.uint8Array({ maxLength: 40 })) }), { nil: undefined }),
        cancel: fc.option(fc.record({ target: fc.nat() }), { nil: undefined })
      }).map(r => Request.encode(r))
    )
    await fc.assert(fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 6 }), async (frames) => {
      const stream = await attacker!.dialProtocol(target, EXCHANGE_PROTOCOL)
      const lp = lpStream(stream, { maxDataLength: 4 * MiB })
      const timer = setTimeout(() => { stream.abort(new Error('fuzz timeout')) }, 10_000)
      try {
        for (const f of frames) await lp.write(f)
        await stream.close()
        // whatever comes back must be well-formed Responses
        while (true) Response.decode(await lp.read())
      } catch (err: any) {
        // the end of the stream, or a reset: both are answers; a Response that does not decode is not
        assert.notEqual(err.name, 'RangeError', err.message)
        assert.ok(!/invalid wire type|index out of range/i.test(err.message), err.message)
      } finally {
        clearTimeout(timer)
      }
    }), { numRuns: Math.min(RUNS, 200) })
    alive()
    // and an honest request is still answered
    const stream = await attacker.dialProtocol(target, EXCHANGE_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(Request.encode({ id: 1, have: { cids: [realCid] } }))
    assert.deepEqual(Response.decode(await lp.read()).have?.have, [true])
    await stream.close()
  })

  it('memory stays bounded through it all', async () => {
    alive()
    const rss = await rssOf(daemon.child.pid!)
    assert.ok(rss - rssBefore < 200 * MiB, `RSS grew from ${(rssBefore / MiB).toFixed(0)} to ${(rss / MiB).toFixed(0)} MiB`)
  })
})
