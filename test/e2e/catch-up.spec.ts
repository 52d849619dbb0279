import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { lastJson, runCli, spawnLoopbackDaemon } from '../helpers/cli.js'
import { initRepo } from '../../src/peer/index.js'
import { startPeer, testConfig, waitFor } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import type { SpawnedDaemon } from '../helpers/cli.js'

describe('e2e: content published while no daemon ran', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  const daemons: SpawnedDaemon[] = []

  after(async () => {
    for (const d of daemons) await d.stop().catch(() => {})
    await tmp?.cleanup()
  })

  it('is provided in the DHT once the daemon starts and meets a DHT peer', async () => {
    tmp = await tmpDir()
    const repoA = path.join(tmp.dir, 'a')
    await initRepo(repoA, { configText: JSON.stringify(await testConfig(), null, 2) })
    const file = path.join(tmp.dir, 'offline.bin')
    await fs.writeFile(file, randomBytes(300 * 1024))
    // no daemon: the repo itself takes it, and nothing of the network runs
    const pub = await runCli(['--repo', repoA, '--json', 'publish', file])
    assert.equal(pub.code, 0, pub.stderr)
    const { cid } = lastJson(pub.stdout)

    const a = await spawnLoopbackDaemon(repoA)
    daemons.push(a)
    const b = await startPeer(path.join(tmp.dir, 'b'))
    daemons.push(b)
    const addr = lastJson((await runCli(['--repo', repoA, '--json', 'id'])).stdout).addresses[0]
    const conn = await runCli(['--repo', b.repo, '--json', 'connect', addr])
    assert.equal(conn.code, 0, conn.stderr)
    // what could fail: without the catch-up, a's provider records never name this root, and the
    // DHT has nothing to answer b with
    await waitFor(async () => {
      const found = await runCli(['--repo', b.repo, '--json', 'find', cid, '--timeout', '3'])
      return found.code === 0 && lastJson(found.stdout).providers.some((p: any) => p.peerId === a.peerId)
    }, 60_000, 'b to find a as a provider of what a published offline')
  })
})
