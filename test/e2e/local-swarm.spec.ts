/**
 * The `local` swarm config on a LAN: two hosts made of network namespaces on one bridge, each
 * running `shoal start --swarm local` with no bootstrap peer. They find each other by mDNS, meet
 * on gossip, and one fetches what the other published without being told where it is.
 * Needs root (iproute2); without it the test says why and is skipped.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { SHOAL_BIN } from '../helpers/cli.js'
import { waitFor } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import type { ChildProcess } from 'node:child_process'

const PREFIX = `shl${process.pid % 100000}`
const HOSTS = ['a', 'b'] as const

function ip (...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' })
}

function canMakeNamespaces (): boolean {
  try {
    ip('netns', 'add', `${PREFIX}-probe`)
    ip('netns', 'del', `${PREFIX}-probe`)
    return true
  } catch {
    return false
  }
}

function teardownNetwork (): void {
  for (const h of HOSTS) {
    try { ip('netns', 'del', `${PREFIX}-${h}`) } catch {}
    try { ip('link', 'del', `${PREFIX}-v${h}`) } catch {}
  }
  try { ip('link', 'del', `${PREFIX}-br`) } catch {}
}

function setupNetwork (): void {
  ip('link', 'add', `${PREFIX}-br`, 'type', 'bridge')
  // mDNS is multicast: without a querier on the segment, snooping would drop it
  ip('link', 'set', `${PREFIX}-br`, 'type', 'bridge', 'mcast_snooping', '0')
  ip('link', 'set', `${PREFIX}-br`, 'up')
  HOSTS.forEach((h, i) => {
    const ns = `${PREFIX}-${h}`
    ip('netns', 'add', ns)
    ip('link', 'add', `${PREFIX}-v${h}`, 'type', 'veth', 'peer', 'name', `${PREFIX}-p${h}`)
    ip('link', 'set', `${PREFIX}-p${h}`, 'netns', ns)
    ip('link', 'set', `${PREFIX}-v${h}`, 'master', `${PREFIX}-br`, 'up')
    ip('-n', ns, 'addr', 'add', `10.79.0.${i + 2}/24`, 'dev', `${PREFIX}-p${h}`)
    ip('-n', ns, 'link', 'set', `${PREFIX}-p${h}`, 'up')
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    ip('-n', ns, 'route', 'add', 'default', 'dev', `${PREFIX}-p${h}`)
  })
}

/** Run the CLI inside a host's namespace */
async function cli (host: string, args: string[], timeoutMs = 60_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', `${PREFIX}-${host}`, process.execPath, SHOAL_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

const last = (stdout: string): any => JSON.parse(stdout.trim().split('\n').pop() ?? '')

describe('e2e: the local swarm on a LAN (network namespaces)', function () {
  this.timeout(180_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  const daemons: ChildProcess[] = []
  let usable = false

  before(async function () {
    usable = canMakeNamespaces()
    if (!usable) {
      process.stderr.write('      (skipped: network namespaces cannot be made here; this test needs root and iproute2)\n')
      this.skip()
    }
    teardownNetwork()
    setupNetwork()
    tmp = await tmpDir()
  })

  after(async () => {
    for (const d of daemons) d.kill('SIGKILL')
    await Promise.all(daemons.map(async d => new Promise(resolve => { if (d.exitCode != null || d.signalCode != null) resolve(null); else d.once('exit', resolve) })))
    if (usable) teardownNetwork()
    await tmp?.cleanup()
  })

  it('peers find each other by mDNS and fetch without --from', async () => {
    const repo = (h: string): string => path.join(tmp.dir, h)
    for (const h of HOSTS) {
      const child = spawn('ip', ['netns', 'exec', `${PREFIX}-${h}`, process.execPath, SHOAL_BIN, '--repo', repo(h), '--json', 'start', '--init', '--swarm', 'local'], { stdio: ['ignore', 'pipe', 'pipe'] })
      daemons.push(child)
      await new Promise<void>((resolve, reject) => {
        let out = ''
        let err = ''
        child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
        child.stdout?.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('\n')) resolve() })
        child.once('exit', (code) => { reject(new Error(`daemon ${h} exited with ${code}: ${err}`)) })
      })
    }
    const config = JSON.parse(await fs.readFile(path.join(repo('a'), 'config.json'), 'utf8'))
    assert.equal(config.swarm, 'local')
    assert.deepEqual(config.bootstrap, [], 'no bootstrap peer: discovery is mDNS alone')

    await waitFor(async () => {
      const r = await cli('b', ['--repo', repo('b'), '--json', 'peers'])
      return r.code === 0 && last(r.stdout).members.filter((m: any) => m.state === 'alive').length === 2
    }, 90_000, 'the two peers to meet')

    const bytes = randomBytes(3 * 1024 * 1024 + 1)
    const file = path.join(tmp.dir, 'lan.bin')
    await fs.writeFile(file, bytes)
    const pub = await cli('a', ['--repo', repo('a'), '--json', 'publish', file])
    assert.equal(pub.code, 0, pub.stderr)
    const cid = last(pub.stdout).cid
    const out = path.join(tmp.dir, 'lan-out.bin')
    const fetched = await cli('b', ['--repo', repo('b'), '--json', 'fetch', cid, '-o', out])
    assert.equal(fetched.code, 0, fetched.stderr)
    assert.deepEqual(await fs.readFile(out), bytes)
  })
})
