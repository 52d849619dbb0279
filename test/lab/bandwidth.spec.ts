/**
 * Lab: bandwidth-limited links (10 Mbit/s each). Fetching from 4 seeders is at least 3 times
 * faster than from one: the exchange spreads requests over every seeder's link.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { lastJson } from '../helpers/cli.js'
import { waitFor } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import { Lab, labNamespaces, requireLab } from './lab.js'

const MiB = 1024 * 1024
// large enough that session start-up and the end-game are small beside the transfer
const SIZE = 24 * MiB
const FETCHER = 4

describe('lab: 10 Mbit/s links', function () {
  this.timeout(600_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let lab: Lab | undefined

  before(async function () {
    await requireLab(this)
    tmp = await tmpDir('shoal-lab-')
    // seeders 0-3 on 10 Mbit/s links; the fetcher's own link is not the bottleneck
    lab = await Lab.create({ dir: path.join(tmp.dir, 'lab'), hosts: 5, profile: i => i === FETCHER ? { delayMs: 10 } : { delayMs: 10, rateMbit: 10 } })
    for (const note of lab.notes) process.stderr.write(`      lab: ${note}\n`)
    const boot = await lab.start(0)
    await Promise.all([1, 2, 3, FETCHER].map(async i => lab!.start(i, c => { c.bootstrap = [boot.address] })))
  })
  after(async () => {
    await lab?.destroy()
    await tmp?.cleanup()
    if (lab != null) assert.deepEqual(await labNamespaces(), [])
  })

  const publishOn = async (hosts: number[], name: string): Promise<{ cid: string, bytes: Buffer }> => {
    const bytes = randomBytes(SIZE)
    const file = path.join(tmp.dir, name)
    await fs.writeFile(file, bytes)
    const cids = await Promise.all(hosts.map(async (i) => {
      // 256 KiB chunks: at 10 Mbit/s a 1 MiB block takes 0.8 s, so with 1 MiB chunks the seeder
      // that happens to serve one block more than the others decides the time
      const r = await lab!.cli(i, ['--json', 'publish', file, '--no-announce', '--profile', 'unixfs-v0-2015'])
      assert.equal(r.code, 0, r.stderr)
      return lastJson(r.stdout).cid as string
    }))
    assert.equal(new Set(cids).size, 1)
    return { cid: cids[0], bytes }
  }
  const fetchTimed = async (cid: string, bytes: Buffer): Promise<number> => {
    const r = await lab!.cli(FETCHER, ['--json', 'fetch', cid], { timeoutMs: 300_000 })
    assert.equal(r.code, 0, r.stderr)
    const out = path.join(tmp.dir, `out-${cid}`)
    assert.equal((await lab!.cli(FETCHER, ['get', cid, '-o', out])).code, 0)
    assert.ok((await fs.readFile(out)).equals(bytes))
    return lastJson(r.stdout).durationMs
  }

  it('4 seeders are at least 3 times faster than 1', async () => {
    await waitFor(async () => {
      const r = await lab!.cli(FETCHER, ['--json', 'peers'])
      return r.code === 0 && lastJson(r.stdout).peers.length >= 4
    }, 60_000, 'the fetcher to connect to every seeder')
    const one = await publishOn([0], 'one.bin')
    const four = await publishOn([0, 1, 2, 3], 'four.bin')
    const fromOne = await fetchTimed(one.cid, one.bytes)
    const fromFour = await fetchTimed(four.cid, four.bytes)
    process.stderr.write(`      ${SIZE / MiB} MiB: 1 seeder ${(fromOne / 1000).toFixed(1)} s, 4 seeders ${(fromFour / 1000).toFixed(1)} s (${(fromOne / fromFour).toFixed(2)}x)\n`)
    assert.ok(fromOne >= 3 * fromFour, `1 seeder ${fromOne} ms, 4 seeders ${fromFour} ms: ${(fromOne / fromFour).toFixed(2)}x`)
  })
})
