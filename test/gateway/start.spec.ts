/**
 * The gateway's config keys and `shoal start` flags: validation, --no-gateway, a busy port, and
 * bad values refused with one line.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { validateConfig } from '../../src/peer/config-checks.js'
import { runCli, spawnLoopbackDaemon } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

const SOURCE = '/repo/config.json'

describe('gateway: config and start flags', function () {
  this.timeout(60_000)
  let base: any
  let tmp: { dir: string, cleanup(): Promise<void> }

  before(async () => {
    base = JSON.parse(await fs.readFile(new URL('../../../configs/default.json', import.meta.url), 'utf8'))
    tmp = await tmpDir()
  })

  after(async () => {
    await tmp?.cleanup()
  })

  function edited (edit: (c: any) => void): any {
    const c = structuredClone(base)
    edit(c)
    return c
  }

  function rejects (raw: unknown, key: string): void {
    assert.throws(() => validateConfig(raw, SOURCE), (err: any) => {
      assert.equal(err.name, 'InvalidConfigError')
      assert.ok(err.message.includes(key), `"${err.message}" names ${key}`)
      return true
    })
  }

  it('has gateway and metrics sections, and the gateway may bind any address', () => {
    assert.deepEqual(base.gateway, { enabled: true, address: '127.0.0.1:8080', retrievalTimeoutMs: 30000, maxConcurrentRequests: 1024 })
    assert.deepEqual(base.metrics, { enabled: true })
    for (const address of ['0.0.0.0:8080', '192.168.1.10:80', '[::]:8080', '127.0.0.1:0']) {
      assert.equal(validateConfig(edited(c => { c.gateway.address = address }), SOURCE).gateway.address, address)
    }
  })

  it('refuses bad gateway and metrics values, naming the key', () => {
    rejects(edited(c => { c.gateway.address = '8080' }), 'gateway.address')
    rejects(edited(c => { c.gateway.address = '127.0.0.1:99999' }), 'gateway.address')
    rejects(edited(c => { c.gateway.enabled = 'yes' }), 'gateway.enabled')
    rejects(edited(c => { c.gateway.retrievalTimeoutMs = 0 }), 'gateway.retrievalTimeoutMs')
    rejects(edited(c => { c.gateway.maxConcurrentRequests = 1.5 }), 'gateway.maxConcurrentRequests')
    rejects(edited(c => { c.gateway.port = 1 }), '"gateway.port"')
    rejects(edited(c => { delete c.gateway.address }), '"gateway.address"')
    rejects(edited(c => { delete c.metrics }), '"metrics"')
    rejects(edited(c => { c.metrics.enabled = 1 }), 'metrics.enabled')
  })

  it('--no-gateway runs without one: no address printed, written or reported', async () => {
    const d = await spawnLoopbackDaemon(path.join(tmp.dir, 'off'), ['--no-gateway'])
    try {
      assert.equal(d.gateway, undefined)
      await assert.rejects(fs.access(path.join(d.repo, 'gateway')))
      const id = await runCli(['--repo', d.repo, '--json', 'id'])
      assert.equal(JSON.parse(id.stdout.trim().split('\n').pop() ?? '').gateway, undefined)
    } finally {
      assert.equal(await d.stop(), 0)
    }
  })

  it('a bad --gateway is usage error 2, a busy port error 1, each one line, and the repo stays usable', async () => {
    const repo = path.join(tmp.dir, 'busy')
    const bad = await runCli(['--repo', repo, 'start', '--init', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--gateway', 'nope'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /^shoal: --gateway must be HOST:PORT/)
    assert.equal(bad.stderr.trim().split('\n').length, 1)

    const blocker = net.createServer()
    await new Promise<void>(resolve => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      const busy = await runCli(['--repo', repo, 'start', '--init', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--gateway', `127.0.0.1:${port}`])
      assert.equal(busy.code, 1)
      assert.match(busy.stderr, new RegExp(`^shoal: cannot serve the gateway on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`))
      assert.equal(busy.stderr.trim().split('\n').length, 1)
    } finally {
      blocker.close()
    }
    // nothing left behind: the next start takes the repo
    await assert.rejects(fs.access(path.join(repo, 'gateway')))
    await assert.rejects(fs.access(path.join(repo, 'api')))
    const d = await spawnLoopbackDaemon(repo)
    assert.ok(d.gateway != null)
    assert.equal(await d.stop(), 0)
  })
})
