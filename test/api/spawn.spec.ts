/**
 * spawnDaemon: the ready line is read whole whatever way it arrives, a daemon that cannot start
 * or is given up on is named and leaves no process behind, and stop escalates to SIGKILL
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { spawnDaemon } from '../../src/api/spawn.js'
import { rejectsNamed } from '../helpers/assert.js'
import { tmpDir } from '../helpers/tmp.js'

/**
 * A stand-in for the daemon: `prefix` runs this script instead of node, and it ignores the CLI
 * arguments it is given. It writes its pid to `pidFile`, ignores SIGTERM, and prints `lines`
 * with a pause between them.
 */
function fake (pidFile: string, lines: string[]): string[] {
  const script = `
    require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid))
    process.on('SIGTERM', () => {})
    const lines = ${JSON.stringify(lines)}
    let i = 0
    const next = () => { if (i < lines.length) { process.stdout.write(lines[i++]); setTimeout(next, 30) } }
    next()
    setInterval(() => {}, 1000)`
  return [process.execPath, '-e', script, '--']
}

async function gone (pid: number): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    try {
      process.kill(pid, 0)
    } catch {
      return true
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return false
}

describe('api: spawnDaemon', function () {
  this.timeout(60_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  before(async () => { tmp = await tmpDir() })
  after(async () => { await tmp?.cleanup() })

  it('reads the first JSON line, even when it arrives in pieces after other output', async () => {
    const pidFile = path.join(tmp.dir, 'pieces.pid')
    const d = await spawnDaemon({
      repo: 'r',
      prefix: fake(pidFile, ['starting\n{"peerId":"12D3x","addresses":["/ip4/127.0.0.1/tcp/1"],', '"api":"127.0.0.1:2","dashboard":"http://127.0.0.1:2/dashboard","swarm":"s"}\n', '{"later":true}\n'])
    })
    try {
      assert.equal(d.peerId, '12D3x')
      assert.deepEqual(d.addresses, ['/ip4/127.0.0.1/tcp/1'])
      assert.equal(d.api, '127.0.0.1:2')
      assert.equal(d.gateway, undefined)
      assert.equal(d.repo, 'r')
      assert.equal(d.running(), true)
    } finally {
      // it ignores SIGTERM: the grace period ends in SIGKILL
      assert.equal(await d.stop('SIGTERM', { graceMs: 300 }), 'SIGKILL')
    }
    assert.equal(d.running(), false)
  })

  it('gives up after the ready timeout and kills what it started', async () => {
    const pidFile = path.join(tmp.dir, 'silent.pid')
    await rejectsNamed(spawnDaemon({ repo: 'silent', prefix: fake(pidFile, []), readyTimeoutMs: 500 }), 'DaemonSpawnError', /repo silent was not ready within 0\.5 s/)
    assert.equal(await gone(Number(await fs.readFile(pidFile, 'utf8'))), true)
  })

  it('stops waiting when its signal aborts, and kills what it started', async () => {
    const pidFile = path.join(tmp.dir, 'aborted.pid')
    const controller = new AbortController()
    const started = spawnDaemon({ repo: 'aborted', prefix: fake(pidFile, ['not json\n']), signal: controller.signal })
    // aborted once the stand-in runs (on a busy machine it may take longer than any fixed pause)
    void (async () => {
      for (let i = 0; i < 200 && !await fs.access(pidFile).then(() => true, () => false); i++) await new Promise(resolve => setTimeout(resolve, 25))
      controller.abort()
    })()
    await rejectsNamed(started, 'DaemonSpawnError', /was stopped before it was ready/)
    assert.equal(await gone(Number(await fs.readFile(pidFile, 'utf8'))), true)
  })

  it('a daemon that exits before it is ready is named with the end of its stderr', async () => {
    // no repo there, and no --init: shoal start refuses
    const repo = path.join(tmp.dir, 'none')
    const err = await rejectsNamed(spawnDaemon({ repo }), 'DaemonSpawnError', /exited with 1 before it was ready/)
    assert.match(err.message, /shoal init/)
    assert.match(err.message, new RegExp(repo.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
  })
})
