/**
 * Lab: a lying peer on a slow link serves corrupted blocks. The fetcher stores 0 corrupt bytes,
 * drops the liar after its first bad block, and completes the fetch from the honest seeder.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { lastJson } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { Lab, labNamespaces, LAB_PORT, requireLab } from './lab.js'

const MiB = 1024 * 1024
const LIAR = fileURLToPath(new URL('./liar-peer.js', import.meta.url))

describe('lab: a lying peer on a slow link', function () {
  this.timeout(300_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let lab: Lab | undefined

  before(async function () {
    await requireLab(this)
    tmp = await tmpDir('shoal-lab-')
    // host 0 honest seeder, host 1 fetcher (100 Mbit/s each), host 2 the liar: 150 ms further away and 4 Mbit/s
    lab = await Lab.create({ dir: path.join(tmp.dir, 'lab'), hosts: 3, profile: i => i === 2 ? { delayMs: 150, jitterMs: 10, rateMbit: 4 } : { delayMs: 10, rateMbit: 100 } })
    for (const note of lab.notes) process.stderr.write(`      lab: ${note}\n`)
  })
  after(async () => {
    await lab?.destroy()
    await tmp?.cleanup()
    if (lab != null) assert.deepEqual(await labNamespaces(), [])
  })

  it('0 corrupt bytes stored, the liar is dropped, the fetch completes byte-identical', async () => {
    const seeder = await lab!.start(0)
    await lab!.start(1)
    const liar = await lab!.spawnNode(2, LIAR, [await lab!.front(2), path.join(tmp.dir, 'liar-ds')])
    // reached at its host's address, through the delay relay where there is one
    liar.ready.address = `/ip4/${lab!.hosts[2].ip}/tcp/${LAB_PORT}/p2p/${String(liar.ready.peerId)}`
    const bytes = randomBytes(32 * MiB)
    const file = path.join(tmp.dir, 'honest.bin')
    await fs.writeFile(file, bytes)
    const pub = await lab!.cli(0, ['--json', 'publish', file])
    assert.equal(pub.code, 0, pub.stderr)
    const { cid } = lastJson(pub.stdout)

    // the liar is listed first, so it gets work from the start
    const r = await lab!.cli(1, ['--json', 'fetch', cid, '--from', liar.ready.address, '--from', seeder.address], { timeoutMs: 240_000 })
    assert.equal(r.code, 0, r.stderr)
    const events = r.stderr.trim().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l))
    const bad = events.filter(e => e.type === 'fetch:bad-block')
    assert.equal(bad.length, 1, `one bad block and the liar is out: ${JSON.stringify(events.filter(e => e.type !== 'fetch:block'))}`)
    assert.equal(bad[0].peerId, liar.ready.peerId)
    assert.ok(events.some(e => e.type === 'fetch:peer' && e.joined === false && e.peerId === liar.ready.peerId), 'the liar left the session')

    const verify = await lab!.cli(1, ['--json', 'verify'])
    assert.equal(verify.code, 0, verify.stderr)
    assert.deepEqual(lastJson(verify.stdout).corrupt, [], '0 corrupt blocks stored')
    const out = path.join(tmp.dir, 'fetched.bin')
    assert.equal((await lab!.cli(1, ['get', cid, '-o', out])).code, 0)
    assert.ok((await fs.readFile(out)).equals(bytes), 'byte-identical')
  })
})
