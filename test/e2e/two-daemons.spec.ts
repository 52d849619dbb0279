import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { lastJson, runCli, spawnLoopbackDaemon } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import type { SpawnedDaemon } from '../helpers/cli.js'

describe('e2e: two daemons as separate processes', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let a: SpawnedDaemon
  let b: SpawnedDaemon

  before(async () => {
    tmp = await tmpDir()
    a = await spawnLoopbackDaemon(path.join(tmp.dir, 'a'))
    b = await spawnLoopbackDaemon(path.join(tmp.dir, 'b'))
  })

  after(async () => {
    await a?.stop()
    await b?.stop()
    await tmp?.cleanup()
  })

  it('publishes through the CLI of one, connects them, and each sees the other in peers', async () => {
    const file = path.join(tmp.dir, 'data.bin')
    const bytes = randomBytes(2 * 1024 * 1024 + 123)
    await fs.writeFile(file, bytes)
    const pub = await runCli(['--repo', a.repo, '--json', 'publish', file])
    assert.equal(pub.code, 0, pub.stderr)
    const { cid, size, name } = lastJson(pub.stdout)
    assert.match(cid, /^bafybei/)
    assert.equal(size, bytes.byteLength)
    assert.equal(name, 'data.bin')

    // the daemon holds the repo: the CLI went through its API, and reads back the same bytes
    const cat = await runCli(['--repo', a.repo, 'cat', cid])
    assert.equal(cat.code, 0, cat.stderr)
    assert.equal(Buffer.from(cat.stdout, 'latin1').byteLength > 0, true)
    const out = path.join(tmp.dir, 'restored.bin')
    const get = await runCli(['--repo', a.repo, 'get', cid, '-o', out])
    assert.equal(get.code, 0, get.stderr)
    assert.ok((await fs.readFile(out)).equals(bytes))

    const id = await runCli(['--repo', b.repo, '--json', 'id'])
    assert.equal(id.code, 0, id.stderr)
    const bId = lastJson(id.stdout)
    assert.equal(bId.peerId, b.peerId)
    assert.ok(bId.addresses.length > 0)

    const conn = await runCli(['--repo', a.repo, '--json', 'connect', bId.addresses[0]])
    assert.equal(conn.code, 0, conn.stderr)
    assert.equal(lastJson(conn.stdout).peerId, b.peerId)

    const peersA = lastJson((await runCli(['--repo', a.repo, '--json', 'peers'])).stdout).peers
    const peersB = lastJson((await runCli(['--repo', b.repo, '--json', 'peers'])).stdout).peers
    assert.ok(peersA.some((p: any) => p.peerId === b.peerId), JSON.stringify(peersA))
    assert.ok(peersB.some((p: any) => p.peerId === a.peerId), JSON.stringify(peersB))
  })

  it('a second daemon on the same repo is refused, and a SIGTERM shuts a daemon down cleanly', async () => {
    const second = await runCli(['--repo', a.repo, 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0'])
    assert.equal(second.code, 1)
    assert.match(second.stderr, /in use by process \d+/)
    assert.equal(second.stderr.trim().split('\n').length, 1)

    const code = await b.stop('SIGTERM')
    assert.equal(code, 0)
    // a clean stop removes the API address and token and releases the lock
    await assert.rejects(fs.access(path.join(b.repo, 'api')))
    await assert.rejects(fs.access(path.join(b.repo, 'api.token')))
    await assert.rejects(fs.access(path.join(b.repo, 'repo.lock')))
    // the peer store persisted in the repo: b remembers a
    const remembered = await fs.readdir(path.join(b.repo, 'datastore', 'peers'))
    assert.ok(remembered.length >= 1, 'no peer records in the datastore')
    // with no daemon, local commands work on the repo directly
    const ls = await runCli(['--repo', b.repo, '--json', 'ls'])
    assert.equal(ls.code, 0, ls.stderr)
    assert.deepEqual(lastJson(ls.stdout).pins, [])
  })

  it('a daemon killed with SIGKILL leaves a stale lock that the next start takes over', async () => {
    const repo = path.join(tmp.dir, 'c')
    const c = await spawnLoopbackDaemon(repo)
    await c.stop('SIGKILL')
    await fs.access(path.join(repo, 'repo.lock'))
    // commands see the holder is gone and work offline
    const ls = await runCli(['--repo', repo, '--json', 'pin', 'ls'])
    assert.equal(ls.code, 0, ls.stderr)
    const again = await spawnLoopbackDaemon(repo)
    assert.equal(again.peerId, c.peerId)
    assert.equal(await again.stop(), 0, again.stderr())
  })

  it('the control API refuses requests without the token (401) and browser requests (403)', async () => {
    const url = `http://${a.api}/api/v0/id`
    const token = (await fs.readFile(path.join(a.repo, 'api.token'), 'utf8')).trim()
    assert.equal((await fetch(url, { method: 'POST' })).status, 401)
    assert.equal((await fetch(url, { method: 'POST', headers: { Authorization: 'Bearer wrong' } })).status, 401)
    assert.equal((await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${token}`, Origin: 'http://example.test' } })).status, 403)
    const ok = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${token}` } })
    assert.equal(ok.status, 200)
    assert.equal(((await ok.json()) as any).peerId, a.peerId)
    // a client that waits for 100-continue before a large body is refused without being asked for it
    const [host, port] = a.api.split(':')
    const refused = await new Promise<{ status?: number, continued: boolean }>((resolve, reject) => {
      let continued = false
      const req = http.request({ host, port: Number(port), path: '/api/v0/car/import', method: 'POST', agent: false, headers: { Expect: '100-continue', 'Content-Length': 10 * 1024 * 1024 } })
      req.on('continue', () => { continued = true; req.end(Buffer.alloc(10 * 1024 * 1024)) })
      req.on('response', (res) => { res.resume(); resolve({ status: res.statusCode, continued }); req.destroy() })
      req.on('error', reject)
      req.flushHeaders()
    })
    assert.deepEqual(refused, { status: 401, continued: false })
    // the API binds loopback only
    assert.match(a.api, /^127\.0\.0\.1:\d+$/)
    const mode = (await fs.stat(path.join(a.repo, 'api.token'))).mode & 0o777
    assert.equal(mode, 0o600)
  })
})
