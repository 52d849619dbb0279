/**
 * Discovery and gossip between daemon processes: membership notices a killed peer, the CLI's
 * routing and gossip commands, and private swarms that keep out peers without the key.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { createApiClient } from '../../src/api/index.js'
import { lastJson, runCli } from '../helpers/cli.js'
import { publishRandom, startPeer, waitFor } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import type { SpawnedDaemon } from '../helpers/cli.js'

const INTERVAL = 1000

describe('e2e: swarm of daemon processes', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  const daemons: SpawnedDaemon[] = []

  const peer = async (name: string, change?: (c: any) => void): Promise<SpawnedDaemon> => {
    const d = await startPeer(path.join(tmp.dir, name), change)
    daemons.push(d)
    return d
  }
  const clientOf = async (d: SpawnedDaemon): Promise<ReturnType<typeof createApiClient>> =>
    createApiClient({ address: d.api, token: (await fs.readFile(path.join(d.repo, 'api.token'), 'utf8')).trim() })

  before(async () => { tmp = await tmpDir() })
  after(async () => {
    await Promise.all(daemons.map(async d => d.stop()))
    await tmp?.cleanup()
  })

  describe('membership, routing and announcements', () => {
    let a: SpawnedDaemon
    let b: SpawnedDaemon
    let c: SpawnedDaemon

    before(async () => {
      a = await peer('a', cfg => { cfg.gossip.presenceIntervalMs = INTERVAL })
      const joinA = (cfg: any): void => { cfg.gossip.presenceIntervalMs = INTERVAL; cfg.bootstrap = [a.addresses[0]] }
      ;[b, c] = await Promise.all([peer('b', joinA), peer('c', joinA)])
      // every daemon's table, not only a's: b and c hear of each other through a
      for (const d of [a, b, c]) {
        const api = await clientOf(d)
        try {
          await waitFor(async () => (await api.members()).filter(m => m.state === 'alive').length === 3, 30_000, 'three live members')
        } finally {
          api.close()
        }
      }
    })

    it('peers lists every member as alive, with its load, in text and JSON', async () => {
      const r = await runCli(['--repo', b.repo, '--json', 'peers'])
      assert.equal(r.code, 0, r.stderr)
      const { members, peers } = lastJson(r.stdout)
      assert.deepEqual(members.map((m: any) => m.peerId).sort(), [a.peerId, b.peerId, c.peerId].sort())
      assert.ok(members.every((m: any) => m.state === 'alive' && m.uploadSlots === 16 && m.free > 0))
      assert.ok(peers.some((p: any) => p.peerId === a.peerId))
      const text = await runCli(['--repo', b.repo, 'peers'])
      assert.match(text.stdout, new RegExp(`${c.peerId}\\talive`))
    })

    it('provide reports DHT peers, find lists the provider, status names it, watch prints the announcement', async () => {
      const watch = runCli(['--repo', c.repo, '--json', 'watch', '--count', '1'], { timeoutMs: 30_000 })
      // give the watch a moment to subscribe before announcing
      await new Promise(resolve => setTimeout(resolve, 1500))
      const { cid } = await publishRandom(b, tmp.dir, 200_000, 'watched.bin')
      const w = await watch
      assert.equal(w.code, 0, w.stderr)
      const announced = lastJson(w.stdout)
      assert.equal(announced.cid, cid)
      assert.equal(announced.publisher, b.peerId)
      assert.match(announced.name, /^watched\.bin/)

      const provided = await runCli(['--repo', b.repo, '--json', 'provide', cid])
      assert.equal(provided.code, 0, provided.stderr)
      assert.ok(lastJson(provided.stdout).accepted >= 1)
      const found = await runCli(['--repo', a.repo, '--json', 'find', cid, '--timeout', '5'])
      assert.equal(found.code, 0, found.stderr)
      assert.ok(lastJson(found.stdout).providers.some((p: any) => p.peerId === b.peerId))
      const status = await runCli(['--repo', a.repo, '--json', 'status', cid, '--timeout', '3'])
      assert.equal(status.code, 0, status.stderr)
      const s = lastJson(status.stdout)
      assert.equal(s.local, false)
      assert.ok(s.holders.some((h: any) => h.peerId === b.peerId && h.sources.includes('dht') && h.state === 'alive'))
    })

    it('refuses bad input to the routing and gossip commands with one clear line', async () => {
      for (const args of [['find', 'nope'], ['provide', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'], ['status', 'x'], ['publish', '--tag', 'Bad Tag', '/etc/hostname']]) {
        const r = await runCli(['--repo', a.repo, ...args])
        assert.notEqual(r.code, 0, args.join(' '))
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
      }
    })

    it('a killed peer turns gone in the others\' tables within 3 heartbeats', async () => {
      const api = await clientOf(a)
      try {
        const killedAt = Date.now()
        await c.stop('SIGKILL')
        let goneAt = 0
        await waitFor(async () => {
          const m = (await api.members()).find(x => x.peerId === c.peerId)
          if (m?.state === 'gone') goneAt = Date.now()
          return goneAt > 0
        }, 10 * INTERVAL, 'the killed peer to be marked gone')
        // the table marks a member gone 2.5 periods after its last beat (test/gossip/membership.spec.ts);
        // the half period left covers the polling here
        assert.ok(goneAt - killedAt <= 3 * INTERVAL + 500, `gone after ${goneAt - killedAt} ms`)
        const others = (await api.members()).filter(m => m.peerId !== c.peerId)
        assert.ok(others.every(m => m.state === 'alive'), 'the living stay alive')
      } finally {
        api.close()
      }
    })
  })

  describe('private swarms', () => {
    it('keygen writes a key (and never overwrites one); only holders of the key can connect', async () => {
      const key = path.join(tmp.dir, 'swarm.key')
      const gen = await runCli(['--json', 'swarm', 'keygen', '-o', key])
      assert.equal(gen.code, 0, gen.stderr)
      const text = await fs.readFile(key, 'utf8')
      assert.match(text, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
      assert.equal((await fs.stat(key)).mode & 0o777, 0o600)
      const again = await runCli(['swarm', 'keygen', '-o', key])
      assert.equal(again.code, 2)
      assert.equal(await fs.readFile(key, 'utf8'), text, 'the existing key is untouched')
      const otherKey = path.join(tmp.dir, 'other.key')
      assert.equal((await runCli(['swarm', 'keygen', '-o', otherKey])).code, 0)

      // refused dials fail fast rather than at the dial timeout
      const member = (file: string) => (cfg: any): void => { cfg.swarm = 'private-test'; cfg.swarmKey = file; cfg.limits.dialTimeoutMs = 2000 }
      const p1 = await peer('p1', member(key))
      const p2 = await peer('p2', member(key))
      const stranger = await peer('open', (cfg) => { cfg.limits.dialTimeoutMs = 2000 })
      const wrongKey = await peer('wrong', member(otherKey))

      const ok = await runCli(['--repo', p2.repo, '--json', 'connect', p1.addresses[0]])
      assert.equal(ok.code, 0, ok.stderr)
      for (const outsider of [stranger, wrongKey]) {
        const r = await runCli(['--repo', outsider.repo, 'connect', p1.addresses[0]], { timeoutMs: 30_000 })
        assert.notEqual(r.code, 0, 'a peer without the key cannot connect')
      }
      const fromInside = await runCli(['--repo', p1.repo, 'connect', stranger.addresses[0]], { timeoutMs: 30_000 })
      assert.notEqual(fromInside.code, 0, 'nor can a member connect out to it')
      const peers = lastJson((await runCli(['--repo', p1.repo, '--json', 'peers'])).stdout).peers
      assert.deepEqual(peers.map((p: any) => p.peerId), [p2.peerId])
    })

    it('a missing or malformed key file stops the daemon with one clear line', async () => {
      const bad = path.join(tmp.dir, 'bad.key')
      await fs.writeFile(bad, 'not a key\n')
      for (const [name, file] of [['nokey', path.join(tmp.dir, 'missing.key')], ['badkey', bad]]) {
        await assert.rejects(peer(name, (cfg) => { cfg.swarmKey = file }), (err: any) => {
          assert.match(err.message, /swarm key/)
          return true
        })
      }
    })
  })
})
