/**
 * Commands that need a running daemon, given bad input or facing failures: each ends in one
 * line on stderr with the exit code the README gives.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { lastJson, runCli, spawnLoopbackDaemon } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import type { SpawnedDaemon } from '../helpers/cli.js'

function oneLine (stderr: string): void {
  assert.equal(stderr.trim().split('\n').length, 1, `expected one line, got: ${stderr}`)
  assert.match(stderr, /^shoal: /)
}

describe('cli: commands through a daemon', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let a: SpawnedDaemon
  let b: SpawnedDaemon
  let cid: string

  before(async () => {
    tmp = await tmpDir()
    a = await spawnLoopbackDaemon(path.join(tmp.dir, 'a'))
    b = await spawnLoopbackDaemon(path.join(tmp.dir, 'b'))
    await fs.writeFile(path.join(tmp.dir, 'data.txt'), 'fetched\n')
    const pub = await runCli(['--repo', a.repo, '--json', 'publish', path.join(tmp.dir, 'data.txt')])
    assert.equal(pub.code, 0, pub.stderr)
    cid = lastJson(pub.stdout).cid
  })

  after(async () => {
    await a?.stop()
    await b?.stop()
    await tmp?.cleanup()
  })

  it('fetch -o refuses an existing path before fetching, and --force replaces it', async () => {
    const from = a.addresses[0]
    const out = path.join(tmp.dir, 'existing.txt')
    await fs.writeFile(out, 'mine\n')
    const r = await runCli(['--repo', b.repo, 'fetch', cid, '--from', from, '-o', out])
    assert.equal(r.code, 2)
    oneLine(r.stderr)
    assert.match(r.stderr, /already exists: remove it, pass --force/)
    assert.equal(await fs.readFile(out, 'utf8'), 'mine\n')
    // nothing was fetched or pinned
    assert.deepEqual(lastJson((await runCli(['--repo', b.repo, '--json', 'pin', 'ls'])).stdout).pins, [])

    const f = await runCli(['--repo', b.repo, '--json', 'fetch', cid, '--from', from, '-o', out, '--force'])
    assert.equal(f.code, 0, f.stderr)
    assert.equal(lastJson(f.stdout).path, out)
    assert.equal(await fs.readFile(out, 'utf8'), 'fetched\n')
  })

  it('connect names a /p2p/ part that is no peer id', async () => {
    const r = await runCli(['--repo', a.repo, 'connect', '/ip4/127.0.0.1/tcp/1/p2p/notapeerid'])
    assert.equal(r.code, 2)
    oneLine(r.stderr)
    assert.match(r.stderr, /invalid peer id "notapeerid" in \/ip4\/127\.0\.0\.1\/tcp\/1\/p2p\/notapeerid/)
  })

  it('connect says in one line why a dial failed', async () => {
    const tcp = (a.addresses.find(x => !x.includes('/ws')) ?? '').replace(/\/p2p\/.*$/, '')
    const stranger = '12D3KooWSoP5Qh55wURkZTW7V6tEiZtgWz8vGhTCnHCgP291FFYq'
    const gateway = `/ip4/127.0.0.1/tcp/${String(a.gateway).split(':')[1]}`
    // a listener that accepts and never answers
    const silent = net.createServer(() => {})
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    const silentPort = (silent.address() as net.AddressInfo).port
    const cases: Array<[string, RegExp]> = [
      [`${tcp}/p2p/${stranger}`, new RegExp(`the peer at that address has a different peer id \\(${a.peerId}\\)`)],
      [`${tcp}/p2p/${a.peerId}`, /that is this peer's own address/],
      [`${gateway}/p2p/${stranger}`, /the handshake failed .*is a shoal peer of the same swarm/],
      [`/ip4/127.0.0.1/tcp/1/p2p/${stranger}`, /connection refused/],
      [`/ip4/127.0.0.1/tcp/${silentPort}/p2p/${stranger}`, /timed out after \d+ s/]
    ]
    try {
      for (const [addr, message] of cases) {
        const r = await runCli(['--repo', a.repo, 'connect', addr])
        assert.equal(r.code, 1, `${addr}: ${r.stderr}`)
        oneLine(r.stderr)
        assert.ok(r.stderr.startsWith(`shoal: could not connect to ${addr}: `), r.stderr)
        assert.match(r.stderr, message)
      }
    } finally {
      silent.close()
    }
  })
})
