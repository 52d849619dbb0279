/**
 * Lab: 8 hosts with 40 ms RTT and 1% loss between any two. Content published on one is found
 * through the DHT and fetched byte-identical on another, its announcement reaches every host;
 * then one of the two bootstrap peers goes dark and new hosts still join.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { lastJson } from '../helpers/cli.js'
import { waitFor } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import { Lab, WAN, labNamespaces, requireLab } from './lab.js'

const MiB = 1024 * 1024

describe('lab: 8 hosts, 40 ms RTT, 1% loss', function () {
  this.timeout(600_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let lab: Lab | undefined
  let cid: string
  let bytes: Buffer

  before(async function () {
    await requireLab(this)
    tmp = await tmpDir('shoal-lab-')
    lab = await Lab.create({ dir: path.join(tmp.dir, 'lab'), hosts: 8, profile: WAN })
    for (const note of lab.notes) process.stderr.write(`      lab: ${note}\n`)
    if (!lab.lossEmulated && process.env.SHOAL_LAB_REQUIRED === '1') throw new Error('this scenario needs 1% loss: neither tc netem nor nftables is usable here')
    const boot = await lab.start(0)
    const boot2 = await lab.start(1, c => { c.bootstrap = [boot.address] })
    await Promise.all([2, 3, 4, 5, 6, 7].map(async i => lab!.start(i, c => { c.bootstrap = [boot.address, boot2.address] })))
  })
  after(async () => {
    await lab?.destroy()
    await tmp?.cleanup()
    if (lab != null) assert.deepEqual(await labNamespaces(), [], 'every namespace of the lab is gone')
  })

  const alive = async (i: number): Promise<string[]> => {
    const r = await lab!.cli(i, ['--json', 'peers'])
    if (r.code !== 0) return []
    return lastJson(r.stdout).members.filter((m: any) => m.state === 'alive').map((m: any) => m.peerId)
  }

  it('every host sees all 8 members alive', async () => {
    await waitFor(async () => (await alive(7)).length === 8 && (await alive(0)).length === 8, 60_000, '8 live members on hosts 0 and 7')
  })

  it('publish on one host: the announcement reaches all, another finds it in the DHT and fetches it byte-identical', async () => {
    const watchers = [1, 2, 3, 4, 5, 6, 7].map(async i => lab!.cli(i, ['--json', 'watch', '--count', '1'], { timeoutMs: 60_000 }))
    // the watchers subscribe before the announcement goes out
    await new Promise(resolve => setTimeout(resolve, 3000))
    bytes = randomBytes(8 * MiB)
    const file = path.join(tmp.dir, 'published.bin')
    await fs.writeFile(file, bytes)
    const pub = await lab!.cli(0, ['--json', 'publish', file])
    assert.equal(pub.code, 0, pub.stderr)
    cid = lastJson(pub.stdout).cid

    const heard = await Promise.all(watchers)
    for (const [k, w] of heard.entries()) {
      assert.equal(w.code, 0, `host ${k + 1} heard no announcement: ${w.stderr}`)
      assert.equal(lastJson(w.stdout).cid, cid)
    }

    const found = await lab!.cli(7, ['--json', 'find', cid, '--timeout', '30'])
    assert.equal(found.code, 0, found.stderr)
    assert.ok(lastJson(found.stdout).providers.some((p: any) => p.peerId === lab!.hosts[0].daemon!.peerId), found.stdout)

    const fetched = await lab!.cli(7, ['--json', 'fetch', cid], { timeoutMs: 180_000 })
    assert.equal(fetched.code, 0, fetched.stderr)
    assert.ok(lastJson(fetched.stdout).bytes >= bytes.byteLength)
    const out = path.join(tmp.dir, 'fetched.bin')
    const got = await lab!.cli(7, ['get', cid, '-o', out])
    assert.equal(got.code, 0, got.stderr)
    assert.ok((await fs.readFile(out)).equals(bytes), 'byte-identical')
    if (lab!.lossEmulated) {
      // the links really lost packets on the way (8 MiB over the lossy links is thousands of them)
      let dropped = 0
      for (const i of [0, 7]) dropped += await lab!.dropped(i)
      process.stderr.write(`      packets dropped by the links of hosts 0 and 7: ${dropped}\n`)
      assert.ok(dropped > 0, 'the 1% loss dropped no packet')
    }
  })

  it('with one of two bootstrap peers down, new hosts still join and fetch', async () => {
    const [boot, boot2] = [lab!.hosts[0].daemon!, lab!.hosts[1].daemon!]
    await boot.stop('SIGKILL')
    // dark, not refused: dials to it hang until they time out
    await lab!.setLink(0, false)
    const joiners = [await lab!.addHost(WAN), await lab!.addHost(WAN)]
    await Promise.all(joiners.map(async h => lab!.start(h.index, c => { c.bootstrap = [boot.address, boot2.address] })))
    const live = [1, 2, 3, 4, 5, 6, 7, ...joiners.map(h => h.index)].map(i => lab!.hosts[i].daemon!.peerId)
    for (const h of joiners) {
      await waitFor(async () => { const a = await alive(h.index); return live.every(p => a.includes(p)) }, 60_000, `host ${h.index} to see every live member`)
    }
    // and the old members see the newcomers
    await waitFor(async () => { const a = await alive(4); return joiners.every(h => a.includes(h.daemon!.peerId)) }, 30_000, 'host 4 to see the newcomers')
    const j = joiners[1].index
    const fetched = await lab!.cli(j, ['--json', 'fetch', cid], { timeoutMs: 180_000 })
    assert.equal(fetched.code, 0, fetched.stderr)
    const out = path.join(tmp.dir, 'joiner.bin')
    assert.equal((await lab!.cli(j, ['get', cid, '-o', out])).code, 0)
    assert.ok((await fs.readFile(out)).equals(bytes))
  })
})
