/**
 * Names across real daemons: a publisher points a name at each new version of a site, a mirror
 * that follows the name gets the record over gossip, fetches and pins each version and serves it
 * at /ipns/<name>/ with the record's TTL; the signed record is served for verifying clients; a
 * mirror that was down while the name moved catches up when it comes back.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { unmarshalIPNSRecord } from 'ipns'
import { ipnsValidator } from 'ipns/validator'
import { parseName } from '../../src/naming/records.js'
import { lastJson, runCli, spawnLoopbackDaemon } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import type { SpawnedDaemon } from '../helpers/cli.js'

async function shoal (repo: string, ...args: string[]): Promise<any> {
  const r = await runCli(['--repo', repo, '--json', ...args])
  assert.equal(r.code, 0, `shoal ${args.join(' ')}: ${r.stderr}`)
  return lastJson(r.stdout)
}

async function get (gateway: string, p: string, headers: Record<string, string> = {}): Promise<{ status: number, headers: Headers, body: Buffer }> {
  const res = await fetch(`http://${gateway}${p}`, { headers, signal: AbortSignal.timeout(30_000) })
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
}

/** Poll until `fn` returns true, at most `ms` */
async function until (what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  assert.fail(`${what} within ${ms} ms`)
}

describe('e2e: names across daemons', function () {
  this.timeout(180_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let publisher: SpawnedDaemon
  let mirror: SpawnedDaemon
  let site: string
  let name: string

  async function writeVersion (n: number): Promise<void> {
    await fs.mkdir(path.join(site, 'pages'), { recursive: true })
    await fs.writeFile(path.join(site, 'index.html'), `<h1>version ${n}</h1>\n`)
    await fs.writeFile(path.join(site, 'pages', 'about.html'), 'about\n')
    // a large file that never changes: a new version moves only what changed
    if (n === 0) await fs.writeFile(path.join(site, 'big.bin'), randomBytes(2 * 1024 * 1024))
  }

  async function serves (gateway: string, n: number): Promise<boolean> {
    const r = await get(gateway, `/ipns/${name}/index.html`)
    return r.status === 200 && r.body.toString() === `<h1>version ${n}</h1>\n`
  }

  before(async () => {
    tmp = await tmpDir()
    site = path.join(tmp.dir, 'site')
    publisher = await spawnLoopbackDaemon(path.join(tmp.dir, 'publisher'))
    mirror = await spawnLoopbackDaemon(path.join(tmp.dir, 'mirror'))
    await shoal(mirror.repo, 'connect', publisher.addresses[0])
    name = (await shoal(publisher.repo, 'key', 'gen', 'site')).id
    assert.match(name, /^k51/)
    const followed = await shoal(mirror.repo, 'follow', name)
    assert.equal(followed.name, name)
  })

  after(async () => {
    await publisher?.stop()
    await mirror?.stop()
    await tmp?.cleanup()
  })

  it('publish --key points the name at each version; the mirror fetches, pins and serves each', async () => {
    for (let n = 0; n < 3; n++) {
      await writeVersion(n)
      const pub = await shoal(publisher.repo, 'publish', site, '--key', 'site')
      assert.deepEqual({ name: pub.ipns.name, value: pub.ipns.value, sequence: pub.ipns.sequence }, { name, value: `/ipfs/${pub.cid}`, sequence: n })
      // the publisher serves its own name at once
      assert.ok(await serves(publisher.gateway as string, n))
      await until(`the mirror serves version ${n}`, async () => await serves(mirror.gateway as string, n))
      const resolved = await shoal(mirror.repo, 'name', 'resolve', `/ipns/${name}`)
      assert.deepEqual({ name: resolved.name, value: resolved.value, sequence: resolved.sequence }, { name, value: `/ipfs/${pub.cid}`, sequence: n })
    }
    const [f] = (await shoal(mirror.repo, 'follow')).names
    assert.deepEqual(f.versions.map((v: any) => v.sequence), [2, 1, 0])
    assert.ok(f.versions[2].fetchedBytes > 2 * 1024 * 1024, 'the first version is fetched whole')
    for (const v of f.versions.slice(0, 2)) assert.ok(v.fetchedBytes < 4096, `version ${v.sequence} fetched ${v.fetchedBytes} bytes: only what changed`)
    const pins = (await shoal(mirror.repo, 'pin', 'ls')).pins
    for (const v of f.versions) assert.ok(pins.some((p: any) => p.cid === v.cid), `version ${v.sequence} is pinned`)
  })

  it('the gateway caches a name for its TTL and serves the signed record itself', async () => {
    const page = await get(mirror.gateway as string, `/ipns/${name}/pages/about.html`)
    assert.equal(page.status, 200)
    assert.equal(page.body.toString(), 'about\n')
    assert.equal(page.headers.get('cache-control'), 'public, max-age=60')
    const rec = await get(mirror.gateway as string, `/ipns/${name}?format=ipns-record`)
    assert.equal(rec.status, 200)
    assert.equal(rec.headers.get('content-type'), 'application/vnd.ipfs.ipns-record')
    await ipnsValidator(parseName(name).routingKey, rec.body)
    assert.equal(unmarshalIPNSRecord(rec.body).sequence, 2n)
    const byAccept = await get(mirror.gateway as string, `/ipns/${name}`, { Accept: 'application/vnd.ipfs.ipns-record' })
    assert.ok(byAccept.body.equals(rec.body))
    assert.equal((await get(mirror.gateway as string, '/ipns/k51nope/')).status, 400)
    const unknown = (await shoal(publisher.repo, 'key', 'gen', 'unused')).id
    assert.equal((await get(mirror.gateway as string, `/ipns/${unknown}/`)).status, 404)
  })

  it('watch shows a name update as it arrives over gossip', async () => {
    const current = await shoal(publisher.repo, 'name', 'resolve', name)
    const watch = runCli(['--repo', mirror.repo, '--json', 'watch', '--count', '1'], { timeoutMs: 30_000 })
    // the watcher is listening once its request reaches the daemon
    await new Promise(resolve => setTimeout(resolve, 1500))
    const pub = await shoal(publisher.repo, 'name', 'publish', current.value, '--key', 'site')
    const r = await watch
    assert.equal(r.code, 0, r.stderr)
    const line = lastJson(r.stdout)
    assert.deepEqual({ name: line.name, value: line.value, sequence: line.sequence, source: line.source }, { name, value: current.value, sequence: pub.sequence, source: 'gossip' })
  })

  it('a mirror that was down while the name moved twice catches up on restart', async () => {
    await mirror.stop()
    let last = ''
    for (const n of [3, 4]) {
      await writeVersion(n)
      last = (await shoal(publisher.repo, 'publish', site, '--key', 'site')).cid
    }
    mirror = await spawnLoopbackDaemon(mirror.repo)
    await until('the restarted mirror holds the newest version', async () => {
      const [f] = (await shoal(mirror.repo, 'follow')).names
      return f.current?.cid === last
    }, 60_000)
    assert.ok(await serves(mirror.gateway as string, 4))
  })

  it('bad input is a one-line error and a non-zero exit; nothing held changes', async () => {
    const before = await shoal(mirror.repo, 'name', 'resolve', name)
    for (const args of [['name', 'publish', 'not-a-cid'], ['name', 'resolve', 'nope'], ['name', 'publish', before.value, '--key', 'missing'], ['key', 'gen', 'Bad/Name'], ['name', 'publish', before.value, '--ttl', '5 minutes']]) {
      const r = await runCli(['--repo', mirror.repo, ...args])
      assert.notEqual(r.code, 0, args.join(' '))
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    }
    assert.deepEqual(await shoal(mirror.repo, 'name', 'resolve', name), before)
  })
})
