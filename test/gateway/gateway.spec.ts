/**
 * The HTTP gateway of real daemon processes, asked the way curl would ask it.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { CarBlockIterator } from '@ipld/car/iterator'
import { exporter } from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { lastJson, runCli } from '../helpers/cli.js'
import { publishRandom, startPeer, storedBlocks } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import type { SpawnedDaemon } from '../helpers/cli.js'

const MiB = 1024 * 1024

/** A raw GET/HEAD with the path sent as is (fetch would normalise `..`) */
async function request (gateway: string, target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: Buffer }> {
  const [host, port] = [gateway.slice(0, gateway.lastIndexOf(':')), Number(gateway.slice(gateway.lastIndexOf(':') + 1))]
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path: target, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** Every block of a CAR, each checked against its CID */
async function verifiedCar (body: Buffer): Promise<{ roots: CID[], blocks: Map<string, Uint8Array> }> {
  const reader = await CarBlockIterator.fromIterable((async function * () { yield body })())
  const blocks = new Map<string, Uint8Array>()
  for await (const { cid, bytes } of reader) {
    assert.equal(cid.multihash.code, sha256.code)
    assert.deepEqual((await sha256.digest(bytes)).digest, cid.multihash.digest, `block ${cid} does not match`)
    blocks.set(cid.toString(), bytes)
  }
  return { roots: await reader.getRoots(), blocks }
}

/** A file's bytes read back from a set of blocks alone */
async function fileFrom (blocks: Map<string, Uint8Array>, cid: string): Promise<Buffer> {
  const store = { async * get (c: CID) { const b = blocks.get(c.toString()); if (b == null) throw new Error(`missing ${c}`); yield b } }
  const entry = await exporter(cid, store as any)
  assert.ok(entry.type === 'file' || entry.type === 'raw')
  const out: Uint8Array[] = []
  for await (const c of entry.content()) out.push(c)
  return Buffer.concat(out)
}

describe('gateway: a daemon serving /ipfs/ over HTTP', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let a: SpawnedDaemon
  let gw: string
  let file: { cid: string, bytes: Buffer }
  let site: string
  let listing: string

  before(async () => {
    tmp = await tmpDir()
    a = await startPeer(path.join(tmp.dir, 'a'), (c) => { c.gateway.retrievalTimeoutMs = 1500 })
    assert.ok(a.gateway != null, 'the ready line names the gateway')
    gw = a.gateway
    // 3 MiB + a bit: four 1 MiB leaves under one root
    file = await publishRandom(a, tmp.dir, 3 * MiB + 1000)
    const dir = path.join(tmp.dir, 'site')
    await fs.mkdir(path.join(dir, 'docs'), { recursive: true })
    await fs.writeFile(path.join(dir, 'index.html'), '<!doctype html><h1>home</h1>')
    await fs.writeFile(path.join(dir, 'docs', 'notes.txt'), 'plain notes\n')
    await fs.writeFile(path.join(dir, 'docs', 'pic'), Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), Buffer.alloc(64)]))
    await fs.writeFile(path.join(dir, 'docs', '<b>&"odd" name.txt'), 'x')
    const pub = await runCli(['--repo', a.repo, '--json', 'publish', dir])
    assert.equal(pub.code, 0, pub.stderr)
    site = lastJson(pub.stdout).cid
    listing = `/ipfs/${site}/docs/`
  })

  after(async () => {
    await a?.stop()
    await tmp?.cleanup()
  })

  it('is named by the ready line, the repo and `shoal id --json`', async () => {
    assert.equal((await fs.readFile(path.join(a.repo, 'gateway'), 'utf8')).trim(), gw)
    const id = await runCli(['--repo', a.repo, '--json', 'id'])
    assert.equal(lastJson(id.stdout).gateway, gw)
  })

  it('serves a whole file with its length, type, ETag and immutable caching', async () => {
    const r = await request(gw, `/ipfs/${file.cid}`)
    assert.equal(r.status, 200)
    assert.ok(r.body.equals(file.bytes))
    assert.equal(r.headers['content-length'], String(file.bytes.byteLength))
    assert.equal(r.headers['content-type'], 'application/octet-stream')
    assert.equal(r.headers.etag, `"${file.cid}"`)
    assert.equal(r.headers['cache-control'], 'public, max-age=29030400, immutable')
    assert.equal(r.headers['accept-ranges'], 'bytes')
    const again = await request(gw, `/ipfs/${file.cid}`, { 'If-None-Match': `"${file.cid}"` })
    assert.equal(again.status, 304)
    assert.equal(again.body.byteLength, 0)
  })

  it('answers HEAD with the headers of GET and no body', async () => {
    const r = await request(gw, `/ipfs/${file.cid}`, {}, 'HEAD')
    assert.equal(r.status, 200)
    assert.equal(r.headers['content-length'], String(file.bytes.byteLength))
    assert.equal(r.body.byteLength, 0)
  })

  it('serves ranges at block boundaries, inside blocks, across them and from the end', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=0-1048575', 0, MiB - 1], // exactly the first block
      [`bytes=${MiB}-${2 * MiB - 1}`, MiB, 2 * MiB - 1], // exactly the second
      ['bytes=100-199', 100, 199], // inside one block
      [`bytes=${MiB - 10}-${MiB + 9}`, MiB - 10, MiB + 9], // across a boundary
      [`bytes=${3 * MiB}-`, 3 * MiB, file.bytes.byteLength - 1], // open-ended: the last, short block
      ['bytes=-10', file.bytes.byteLength - 10, file.bytes.byteLength - 1], // suffix
      [`bytes=${file.bytes.byteLength - 5}-${file.bytes.byteLength + 1000}`, file.bytes.byteLength - 5, file.bytes.byteLength - 1] // clipped
    ]
    for (const [range, start, end] of cases) {
      const r = await request(gw, `/ipfs/${file.cid}`, { Range: range })
      assert.equal(r.status, 206, range)
      assert.equal(r.headers['content-range'], `bytes ${start}-${end}/${file.bytes.byteLength}`, range)
      assert.equal(r.headers['content-length'], String(end - start + 1), range)
      assert.ok(r.body.equals(file.bytes.subarray(start, end + 1)), `wrong bytes for ${range}`)
    }
  })

  it('answers several ranges as multipart/byteranges and a range past the end with 416', async () => {
    const r = await request(gw, `/ipfs/${file.cid}`, { Range: `bytes=0-9, ${2 * MiB}-${2 * MiB + 19}` })
    assert.equal(r.status, 206)
    const boundary = /boundary=(\S+)/.exec(String(r.headers['content-type']))?.[1]
    assert.ok(boundary != null, String(r.headers['content-type']))
    assert.equal(Number(r.headers['content-length']), r.body.byteLength)
    const parts = r.body.toString('latin1').split(`--${boundary}`).slice(1, -1)
    assert.equal(parts.length, 2)
    assert.match(parts[0], /Content-Range: bytes 0-9\/3146728/)
    assert.ok(Buffer.from(parts[0].split('\r\n\r\n')[1].slice(0, 10), 'latin1').equals(file.bytes.subarray(0, 10)))
    assert.ok(Buffer.from(parts[1].split('\r\n\r\n')[1].slice(0, 20), 'latin1').equals(file.bytes.subarray(2 * MiB, 2 * MiB + 20)))

    const past = await request(gw, `/ipfs/${file.cid}`, { Range: `bytes=${file.bytes.byteLength}-` })
    assert.equal(past.status, 416)
    assert.equal(past.headers['content-range'], `bytes */${file.bytes.byteLength}`)
    // a malformed Range is ignored: the whole file
    const bad = await request(gw, `/ipfs/${file.cid}`, { Range: 'bytes=9-1' })
    assert.equal(bad.status, 200)
    assert.equal(bad.body.byteLength, file.bytes.byteLength)
  })

  it('serves a directory\'s index.html, lists one without, and redirects to the trailing slash', async () => {
    const home = await request(gw, `/ipfs/${site}/`)
    assert.equal(home.status, 200)
    assert.equal(home.headers['content-type'], 'text/html; charset=utf-8')
    assert.equal(home.body.toString(), '<!doctype html><h1>home</h1>')
    const redirect = await request(gw, `/ipfs/${site}/docs`)
    assert.equal(redirect.status, 301)
    assert.equal(redirect.headers.location, `/ipfs/${site}/docs/`)
    const page = await request(gw, listing)
    assert.equal(page.status, 200)
    assert.match(String(page.headers['content-type']), /^text\/html/)
    const html = page.body.toString()
    assert.match(html, /href="\.\/notes\.txt">notes\.txt</)
    assert.match(html, /href="\.\/pic">pic</)
    // names are escaped, never markup
    assert.ok(!html.includes('<b>&"odd"'))
    assert.ok(html.includes('&#60;b&#62;&#38;&#34;odd&#34; name.txt'))
  })

  it('types files by extension, then by sniffing', async () => {
    const txt = await request(gw, `/ipfs/${site}/docs/notes.txt`)
    assert.equal(txt.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(txt.body.toString(), 'plain notes\n')
    const png = await request(gw, `/ipfs/${site}/docs/pic`)
    assert.equal(png.headers['content-type'], 'image/png')
    const named = await request(gw, `/ipfs/${file.cid}?filename=data.json`)
    assert.equal(named.headers['content-type'], 'application/json; charset=utf-8')
    assert.match(String(named.headers['content-disposition']), /^inline; filename="data\.json"/)
  })

  it('answers 404 for a missing path, 400 for a bad CID or a climbing path, and nothing of the control API', async () => {
    assert.equal((await request(gw, `/ipfs/${site}/nope.txt`)).status, 404)
    assert.equal((await request(gw, `/ipfs/${site}/docs/notes.txt/deeper`)).status, 404)
    assert.equal((await request(gw, `/ipfs/${file.cid}/inside`)).status, 404)
    assert.equal((await request(gw, '/ipfs/not-a-cid')).status, 400)
    assert.equal((await request(gw, '/ipfs/')).status, 400)
    assert.equal((await request(gw, `/ipfs/${site}/../${file.cid}`)).status, 400)
    assert.equal((await request(gw, `/ipfs/${site}/%2E%2E/x`)).status, 400)
    assert.equal((await request(gw, `/ipfs/${site}/a%2Fb`)).status, 400)
    for (const target of ['/api/v0/id', '/metrics', '/']) {
      assert.equal((await request(gw, target)).status, 404, target)
    }
    // a CID of content is no name (names are served: docs/names.md)
    assert.equal((await request(gw, `/ipns/${site}`)).status, 400)
    const post = await new Promise<number>((resolve, reject) => {
      const [host, port] = gw.split(':')
      http.request({ host, port: Number(port), path: '/api/v0/id', method: 'POST', agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject).end()
    })
    assert.equal(post, 405)
  })

  it('returns the single raw block, verifiable against the CID, with nosniff', async () => {
    for (const [target, headers] of [[`/ipfs/${file.cid}?format=raw`, {}], [`/ipfs/${file.cid}`, { Accept: 'application/vnd.ipld.raw' }]] as const) {
      const r = await request(gw, target, headers)
      assert.equal(r.status, 200)
      assert.equal(r.headers['content-type'], 'application/vnd.ipld.raw')
      assert.equal(r.headers['x-content-type-options'], 'nosniff')
      const cid = CID.parse(file.cid)
      assert.deepEqual((await sha256.digest(r.body)).digest, cid.multihash.digest)
    }
  })

  it('returns a CAR whose blocks verify and rebuild the file, and a CAR along a path', async () => {
    const r = await request(gw, `/ipfs/${file.cid}`, { Accept: 'application/vnd.ipld.car' })
    assert.equal(r.status, 200)
    assert.match(String(r.headers['content-type']), /^application\/vnd\.ipld\.car; version=1/)
    assert.equal(r.headers['x-content-type-options'], 'nosniff')
    const car = await verifiedCar(r.body)
    assert.deepEqual(car.roots.map(String), [file.cid])
    assert.equal(car.blocks.size, 5)
    assert.ok((await fileFrom(car.blocks, file.cid)).equals(file.bytes))

    const p = await request(gw, `/ipfs/${site}/docs/notes.txt?format=car`)
    assert.equal(p.status, 200)
    const pathCar = await verifiedCar(p.body)
    assert.deepEqual(pathCar.roots.map(String), [site])
    // from the root alone a client can walk the path and read the file
    assert.equal((await fileFrom(pathCar.blocks, `${site}/docs/notes.txt`)).toString(), 'plain notes\n')

    const block = await verifiedCar((await request(gw, `/ipfs/${file.cid}?format=car&dag-scope=block`)).body)
    assert.equal(block.blocks.size, 1)
    assert.equal((await request(gw, `/ipfs/${file.cid}?format=tar`)).status, 400)
    assert.equal((await request(gw, `/ipfs/${site}/nope?format=car`)).status, 404)
  })

  it('answers 504 for a CID no peer has, once the retrieval timeout passes', async () => {
    const r = await request(gw, '/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    assert.equal(r.status, 504)
    assert.match(r.body.toString(), /could not retrieve/)
  })

  describe('pull-through from another peer', () => {
    let b: SpawnedDaemon

    before(async () => {
      b = await startPeer(path.join(tmp.dir, 'b'), (c) => { c.gateway.retrievalTimeoutMs = 30_000 })
      const conn = await runCli(['--repo', b.repo, '--json', 'connect', a.addresses[0]])
      assert.equal(conn.code, 0, conn.stderr)
    })

    after(async () => {
      await b?.stop()
    })

    it('fetches a file it lacks from the swarm, serves it, and keeps it', async () => {
      assert.equal(await storedBlocks(b.repo), 0)
      const r = await request(b.gateway ?? '', `/ipfs/${file.cid}`)
      assert.equal(r.status, 200)
      assert.ok(r.body.equals(file.bytes))
      assert.equal(await storedBlocks(b.repo), 5)
      // b's metrics saw the misses and the bytes fetched for them
      const metrics = await (await fetch(`http://${b.api}/metrics`)).text()
      const value = (name: string): number => Number(metrics.split('\n').find(l => l.startsWith(name + ' '))?.split(' ')[1] ?? 0)
      assert.ok(value('shoal_gateway_cache_blocks_total{result="miss"}') >= 1)
      assert.ok(value('shoal_bytes_fetched_total{protocol="exchange"}') >= file.bytes.byteLength)
      assert.ok(value('shoal_fetch_duration_seconds_count{outcome="ok"}') >= 1)
      assert.equal(value('shoal_connected_peers'), 1)
      // cached: served again from b's store
      const again = await request(b.gateway ?? '', `/ipfs/${file.cid}`, { Range: 'bytes=5-9' })
      assert.ok(again.body.equals(file.bytes.subarray(5, 10)))
    })

    it('fetches only the blocks a range needs', async () => {
      const big = await publishRandom(a, tmp.dir, 8 * MiB, 'big.bin') // eight leaves and a root
      const before = await storedBlocks(b.repo)
      const start = 5 * MiB + 100
      const r = await request(b.gateway ?? '', `/ipfs/${big.cid}?filename=big.bin`, { Range: `bytes=${start}-${start + 999}` })
      assert.equal(r.status, 206)
      assert.ok(r.body.equals(big.bytes.subarray(start, start + 1000)))
      // the root and the one leaf holding the range
      assert.equal(await storedBlocks(b.repo) - before, 2)
    })
  })
})
