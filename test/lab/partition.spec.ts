/**
 * Lab: the swarm splits into two halves for 30 s, then heals. During the split each half keeps
 * working (membership, publish, fetch); after it, membership converges within 3 heartbeats (with
 * tolerance, below) and content published on one side during the split is fetched on the other.
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
const HOSTS = 6
const PERIOD = 1000
const PARTITION_MS = Number(process.env.SHOAL_LAB_PARTITION_MS ?? 30_000)

describe('lab: partition and heal', function () {
  this.timeout(600_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let lab: Lab | undefined
  const A = [0, 1, 2]
  const B = [3, 4, 5]

  before(async function () {
    await requireLab(this)
    tmp = await tmpDir('shoal-lab-')
    lab = await Lab.create({ dir: path.join(tmp.dir, 'lab'), hosts: HOSTS, profile: WAN })
    for (const note of lab.notes) process.stderr.write(`      lab: ${note}\n`)
    const boot = await lab.start(0)
    await Promise.all(Array.from({ length: HOSTS - 1 }, async (_, k) => lab!.start(k + 1, c => { c.bootstrap = [boot.address] })))
  })
  after(async () => {
    await lab?.destroy()
    await tmp?.cleanup()
    if (lab != null) assert.deepEqual(await labNamespaces(), [])
  })

  const states = async (i: number): Promise<Map<string, string>> => {
    const r = await lab!.cli(i, ['--json', 'peers'])
    if (r.code !== 0) return new Map()
    return new Map(lastJson(r.stdout).members.map((m: any) => [m.peerId, m.state]))
  }
  const ids = (hosts: number[]): string[] => hosts.map(i => lab!.hosts[i].daemon!.peerId)
  const allAlive = async (i: number, hosts: number[]): Promise<boolean> => {
    const s = await states(i)
    return ids(hosts).every(p => s.get(p) === 'alive')
  }
  const publish = async (i: number, size: number): Promise<{ cid: string, bytes: Buffer }> => {
    const bytes = randomBytes(size)
    const file = path.join(tmp.dir, `p${i}-${Date.now()}.bin`)
    await fs.writeFile(file, bytes)
    const r = await lab!.cli(i, ['--json', 'publish', file])
    assert.equal(r.code, 0, r.stderr)
    return { cid: lastJson(r.stdout).cid, bytes }
  }
  const fetchSame = async (i: number, cid: string, bytes: Buffer): Promise<void> => {
    const r = await lab!.cli(i, ['--json', 'fetch', cid], { timeoutMs: 120_000 })
    assert.equal(r.code, 0, `host ${i} could not fetch ${cid}: ${r.stderr}`)
    const out = path.join(tmp.dir, `got-${i}-${cid}`)
    assert.equal((await lab!.cli(i, ['get', cid, '-o', out])).code, 0)
    assert.ok((await fs.readFile(out)).equals(bytes))
  }

  it('splits, each half keeps working, then heals and converges', async () => {
    const everyone = [...A, ...B]
    await waitFor(async () => await allAlive(0, everyone) && await allAlive(5, everyone), 60_000, 'all members alive before the split')

    await lab!.partition(B)
    const splitAt = Date.now()
    // each side marks the other gone (2.5 periods after the last beat, plus a sweep)
    await waitFor(async () => {
      const s0 = await states(0)
      const s5 = await states(5)
      return ids(B).every(p => s0.get(p) === 'gone') && ids(A).every(p => s5.get(p) === 'gone')
    }, 20_000, 'each side to see the other gone')
    // a member whose mesh peers were all across the split is briefly unheard while its half's
    // mesh re-forms; each half must see itself alive again within a few heartbeats
    await waitFor(async () => await allAlive(1, A) && await allAlive(4, B), 10 * PERIOD, 'each half to see itself alive')
    // each half publishes and fetches within itself
    const a = await publish(1, 2 * MiB)
    const b = await publish(4, 2 * MiB)
    await fetchSame(2, a.cid, a.bytes)
    await fetchSame(3, b.cid, b.bytes)

    await new Promise(resolve => setTimeout(resolve, Math.max(0, splitAt + PARTITION_MS - Date.now())))
    await lab!.heal()
    const healedAt = Date.now()
    await waitFor(async () => await allAlive(0, everyone) && await allAlive(5, everyone) && await allAlive(2, everyone) && await allAlive(3, everyone), 60_000, 'membership to converge after the heal')
    const took = Date.now() - healedAt
    // 3 heartbeats is the bound; the tolerance covers polling through the CLI (a process per
    // look, about a second each on a loaded machine) and the lab's link delay
    process.stderr.write(`      membership converged ${took} ms after the heal (${(took / PERIOD).toFixed(1)} heartbeats, polled)\n`)
    assert.ok(took <= 3 * PERIOD + 5000, `converged ${took} ms after the heal`)

    // content published on one side during the split is fetched on the other
    await fetchSame(0, b.cid, b.bytes)
    await fetchSame(5, a.cid, a.bytes)
  })
})
