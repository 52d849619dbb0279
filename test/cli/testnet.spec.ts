/**
 * `shoal testnet`: the one-command demo starts N daemons, moves a sample file between two of
 * them, prints every peer's addresses, and leaves nothing behind (with --once, and on Ctrl-C).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import { lastJson, runCli, SHOAL_BIN } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

/** Processes whose command line mentions `needle` */
async function processesWith (needle: string): Promise<number[]> {
  const found: number[] = []
  for (const pid of await fs.readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue
    const cmd = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (cmd.includes(needle)) found.push(Number(pid))
  }
  return found
}

describe('cli: shoal testnet', function () {
  this.timeout(180_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  before(async () => { tmp = await tmpDir() })
  after(async () => { await tmp?.cleanup() })

  it('--once: starts the peers, fetches the sample byte-identical on another peer, prints every address, removes everything', async () => {
    const r = await runCli(['--json', 'testnet', '--peers', '4', '--size', '3000000', '--once', '--dir', tmp.dir], { timeoutMs: 150_000 })
    assert.equal(r.code, 0, r.stderr)
    const out = lastJson(r.stdout)
    assert.equal(out.peers, 4)
    assert.equal(out.identical, true)
    assert.equal(out.membersAlive, 4)
    assert.equal(out.peerList.length, 4)
    assert.equal(new Set(out.peerList.map((p: any) => p.peerId)).size, 4)
    for (const p of out.peerList) {
      assert.match(p.api, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.match(p.gateway, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.match(p.dashboard, /^http:\/\/127\.0\.0\.1:\d+\//)
    }
    assert.deepEqual(await fs.readdir(tmp.dir), [], 'the repos are removed')
    assert.deepEqual(await processesWith(out.dir), [], 'no daemon is left running')
  })

  it('runs until SIGINT, then stops every daemon and removes the repos', async () => {
    const child = spawn(process.execPath, [SHOAL_BIN, 'testnet', '--peers', '2', '--size', '100000', '--dir', tmp.dir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<number | null>(resolve => child.on('exit', (code) => { resolve(code) }))
    try {
      const until = Date.now() + 120_000
      while (!stdout.includes('press Ctrl-C')) {
        if (Date.now() > until || child.exitCode != null) throw new Error(`testnet did not come up: ${stderr}`)
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      assert.match(stdout, /byte-identical: yes/)
      assert.match(stdout, /dashboard/)
      const [dir] = await fs.readdir(tmp.dir)
      assert.ok(dir?.startsWith('shoal-testnet-'))
      assert.equal((await processesWith(dir)).length, 2, 'two daemons run')
      child.kill('SIGINT')
      assert.equal(await exited, 0, stderr)
      assert.deepEqual(await fs.readdir(tmp.dir), [])
      assert.deepEqual(await processesWith(dir), [])
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('refuses a bad --peers with exit 2', async () => {
    const r = await runCli(['testnet', '--peers', '1', '--dir', tmp.dir])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--peers/)
  })
})
