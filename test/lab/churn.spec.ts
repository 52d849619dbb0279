/**
 * Lab: churn. A 256 MiB fetch from 4 seeders while seeders are killed (SIGKILL) and restarted at
 * random; the fetch completes byte-identical. Seeder links are capped (20 Mbit/s each) so the
 * fetch lasts long enough for several kills.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { lastJson } from '../helpers/cli.js'
import { waitFor } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import { Lab, labNamespaces, requireLab } from './lab.js'

const MiB = 1024 * 1024
const SIZE = Number(process.env.SHOAL_LAB_CHURN_MIB ?? 256) * MiB
const SEEDERS = [0, 1, 2, 3]
const FETCHER = 4

async function sha256 (file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer)
  return h.digest('hex')
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const between = (lo: number, hi: number): number => lo + Math.random() * (hi - lo)

describe('lab: churn during a 256 MiB fetch from 4 seeders', function () {
  this.timeout(900_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let lab: Lab | undefined

  before(async function () {
    await requireLab(this)
    tmp = await tmpDir('shoal-lab-')
    lab = await Lab.create({ dir: path.join(tmp.dir, 'lab'), hosts: 5, profile: i => i === FETCHER ? { delayMs: 10 } : { delayMs: 10, rateMbit: 20 } })
    for (const note of lab.notes) process.stderr.write(`      lab: ${note}\n`)
  })
  after(async () => {
    await lab?.destroy()
    await tmp?.cleanup()
    if (lab != null) assert.deepEqual(await labNamespaces(), [])
  })

  it('the fetch completes byte-identical while seeders are killed and restarted', async () => {
    const boot = await lab!.start(0)
    await Promise.all([1, 2, 3, FETCHER].map(async i => lab!.start(i, c => { c.bootstrap = [boot.address] })))
    const file = path.join(tmp.dir, 'big.bin')
    const fh = await fs.open(file, 'w')
    for (let off = 0; off < SIZE; off += 16 * MiB) await fh.write(randomBytes(Math.min(16 * MiB, SIZE - off)))
    await fh.close()
    const digest = await sha256(file)
    // the same bytes published on each seeder give the same CID
    const cids = await Promise.all(SEEDERS.map(async (i) => {
      const r = await lab!.cli(i, ['--json', 'publish', file, '--no-announce'], { timeoutMs: 300_000 })
      assert.equal(r.code, 0, r.stderr)
      return lastJson(r.stdout).cid as string
    }))
    assert.equal(new Set(cids).size, 1)
    const cid = cids[0]
    const alive = async (): Promise<number> => {
      const r = await lab!.cli(FETCHER, ['--json', 'peers'])
      return r.code === 0 ? lastJson(r.stdout).members.filter((m: any) => m.state === 'alive').length : 0
    }
    await waitFor(async () => await alive() === 5, 60_000, 'the fetcher to see every seeder')

    let done = false
    const fetch = lab!.cli(FETCHER, ['--json', 'fetch', cid], { timeoutMs: 600_000 }).finally(() => { done = true })
    const kills: string[] = []
    const churn = (async () => {
      await sleep(3000)
      while (!done && kills.length < 12) {
        const running = SEEDERS.filter(i => lab!.hosts[i].daemon?.running() === true)
        // keep one seeder up at any moment
        if (running.length > 1) {
          const victim = running[Math.floor(Math.random() * running.length)]
          await lab!.hosts[victim].daemon!.stop('SIGKILL')
          kills.push(`host ${victim} at ${new Date().toISOString().slice(11, 19)}`)
          void (async () => {
            await sleep(between(1000, 4000))
            await lab!.start(victim).catch((err) => { process.stderr.write(`      restart of host ${victim} failed: ${err.message}\n`) })
          })()
        }
        await sleep(between(2000, 5000))
      }
    })()
    const r = await fetch
    await churn
    process.stderr.write(`      ${kills.length} kills: ${kills.join(', ')}\n`)
    assert.equal(r.code, 0, `${r.stderr.split('\n').filter(l => !l.includes('fetch:block')).slice(-20).join('\n')}`)
    assert.ok(kills.length >= 3, `only ${kills.length} kills happened during the fetch`)
    // restarted seeders came back into the session (not only the ones that were never killed)
    const joins = r.stderr.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(e => e.type === 'fetch:peer' && e.joined === true)
    process.stderr.write(`      ${joins.length} seeder joins during the fetch\n`)
    assert.ok(joins.length > SEEDERS.length, `only ${joins.length} joins: no restarted seeder rejoined the fetch`)
    const out = path.join(tmp.dir, 'fetched.bin')
    assert.equal((await lab!.cli(FETCHER, ['get', cid, '-o', out], { timeoutMs: 300_000 })).code, 0)
    assert.equal(await sha256(out), digest, 'byte-identical')
    const verify = await lab!.cli(FETCHER, ['--json', 'verify'], { timeoutMs: 300_000 })
    assert.deepEqual(lastJson(verify.stdout).corrupt, [])
  })
})
