/**
 * Lab: 8 hosts with 40 ms RTT and 1% loss. Host 0 publishes a 20 MiB site under a name and
 * updates it five times, one page changed each time; hosts 1-7 follow the name and serve each new
 * version through their gateways. Host 7 is down during two updates and catches up to the newest
 * when it comes back. A forger sends a replayed lower sequence and a record signed by the wrong
 * key: nothing changes anywhere.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { namesTopic } from '../../src/naming/gossip.js'
import { NameRecord } from '../../src/naming/messages.js'
import { parseName, signRecord } from '../../src/naming/records.js'
import { lastJson } from '../helpers/cli.js'
import { waitFor } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import { Lab, WAN, labNamespaces, requireLab } from './lab.js'

const FORGER = fileURLToPath(new URL('./name-forger.js', import.meta.url))
const KiB = 1024
const PAGES = 40
const PAGE = 512 * KiB
const MIRRORS = [1, 2, 3, 4, 5, 6, 7]

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('lab: names over 8 hosts, 40 ms RTT, 1% loss', function () {
  this.timeout(900_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let lab: Lab | undefined
  let name: string
  let site: string
  const pages: Buffer[] = []
  /** The record of sequence 1, as a mirror's gateway served it: replayed by the forger later */
  let oldRecord: Buffer | undefined

  const cli = async (i: number, args: string[], timeoutMs = 120_000): Promise<any> => {
    const r = await lab!.cli(i, ['--json', ...args], { timeoutMs })
    if (r.code !== 0) throw new Error(`host ${i}: shoal ${args.join(' ')}: ${r.stderr.trim().split('\n').pop() ?? ''}`)
    return lastJson(r.stdout)
  }

  /** GET from host `i`'s gateway, inside its namespace */
  const gateway = async (i: number, p: string): Promise<Buffer | undefined> => {
    const host = lab!.hosts[i]
    const gw = host.daemon?.gateway
    if (gw == null || host.daemon?.running() !== true) return undefined
    return new Promise((resolve) => {
      execFile('ip', ['netns', 'exec', host.ns, 'curl', '-sf', '--max-time', '20', `http://${gw}${p}`], { encoding: 'buffer', maxBuffer: 4 * 1024 * 1024 }, (err, stdout) => {
        resolve(err != null ? undefined : stdout)
      })
    })
  }

  const serves = async (i: number, page: number): Promise<boolean> => {
    const body = await gateway(i, `/ipns/${name}/page-${page}.bin`)
    return body != null && sha(body) === sha(pages[page])
  }

  before(async function () {
    await requireLab(this)
    tmp = await tmpDir('shoal-lab-names-')
    lab = await Lab.create({ dir: path.join(tmp.dir, 'lab'), hosts: 8, profile: WAN })
    for (const note of lab.notes) process.stderr.write(`      lab: ${note}\n`)
    const boot = await lab.start(0)
    const boot2 = await lab.start(1, c => { c.bootstrap = [boot.address] })
    await Promise.all([2, 3, 4, 5, 6, 7].map(async i => lab!.start(i, c => { c.bootstrap = [boot.address, boot2.address] })))
    name = (await cli(0, ['key', 'gen', 'site'])).id
    for (const i of MIRRORS) await cli(i, ['follow', name])
    site = path.join(tmp.dir, 'site')
    await fs.mkdir(site)
    for (let p = 0; p < PAGES; p++) {
      pages.push(randomBytes(PAGE))
      await fs.writeFile(path.join(site, `page-${p}.bin`), pages[p])
    }
  })

  after(async () => {
    await lab?.destroy()
    await tmp?.cleanup()
    if (lab != null) assert.deepEqual(await labNamespaces(), [], 'every namespace of the lab is gone')
  })

  it('every mirror serves each of five updates; a mirror down for two catches up on restart', async () => {
    const alive = async (): Promise<number> => (await cli(7, ['peers'])).members.filter((m: any) => m.state === 'alive').length
    await waitFor(async () => await alive() === 8, 90_000, '8 live members')
    const first = await cli(0, ['publish', site, '--key', 'site'])
    assert.equal(first.ipns.sequence, 0)
    await Promise.all(MIRRORS.map(async i => waitFor(async () => serves(i, 0), 300_000, `host ${i} serving the first version`)))
    const latencies: number[] = []
    const fetched: number[] = []
    const heard: number[] = []
    const commands: number[] = []
    for (let u = 1; u <= 5; u++) {
      if (u === 2) await lab!.hosts[7].daemon!.stop()
      const page = (u * 7) % PAGES
      pages[page] = randomBytes(PAGE)
      await fs.writeFile(path.join(site, `page-${page}.bin`), pages[page])
      // the content is stored first; the clock runs from `name publish` (a CLI process)
      const { cid } = await cli(0, ['publish', site])
      const t0 = Date.now()
      const pub = await cli(0, ['name', 'publish', cid, '--key', 'site'])
      commands.push(Date.now() - t0)
      assert.equal(pub.sequence, u)
      const up = MIRRORS.filter(i => lab!.hosts[i].daemon?.running() === true)
      await Promise.all(up.map(async i => {
        await waitFor(async () => serves(i, page), 120_000, `host ${i} serving update ${u}`)
        latencies.push(Date.now() - t0)
        // when the mirror had the version whole (its clock is this machine's): from then on its
        // gateway serves it, whatever the polls above add
        const [f] = (await cli(i, ['follow'])).names
        fetched.push(f.current.at - t0)
        heard.push(f.current.heardAt - t0)
      }))
      if (u === 1) oldRecord = await gateway(1, `/ipns/${name}?format=ipns-record`)
      if (u === 3) {
        // back after updates 2 and 3: it catches up to 3, the newest
        await lab!.start(7)
        await waitFor(async () => serves(7, page), 120_000, 'host 7 catching up to update 3')
        const [f] = (await cli(7, ['follow'])).names
        assert.equal(f.current.sequence, 3)
      }
    }
    const q = (xs: number[], x: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(x * xs.length) - 1)]
    process.stderr.write(`      lab: name publish -> mirror gateway serving the new page, ms: p50 ${q(latencies, 0.5)}, p99 ${q(latencies, 0.99)} (${latencies.length} samples; the CLI's start and curl polls in the namespaces included)\n`)
    process.stderr.write(`      lab: name publish -> record on the mirror, ms: p50 ${q(heard, 0.5)}, p99 ${q(heard, 0.99)}; -> version whole (served; pinned after): p50 ${q(fetched, 0.5)}, p99 ${q(fetched, 0.99)}\n`)
    process.stderr.write(`      lab: publisher's name publish command (a process, DHT put included), ms: ${commands.join(', ')}\n`)
    for (const i of MIRRORS) {
      const [f] = (await cli(i, ['follow'])).names
      assert.equal(f.current.sequence, 5, `host ${i}`)
      // each update after the first moved about one page (the mirror down for two fetched two)
      for (const v of f.versions.filter((x: any) => x.sequence > 0 && x.sequence !== 3)) {
        assert.ok(v.fetchedBytes <= 1.2 * PAGE, `host ${i} fetched ${v.fetchedBytes} bytes for sequence ${v.sequence}`)
      }
    }
  })

  it('a forged record (wrong key, replayed lower sequence) changes nothing anywhere', async () => {
    assert.ok(oldRecord != null, 'the record of sequence 1 was kept')
    const key = parseName(name).routingKey.subarray('/ipns/'.length)
    const wrong = await generateKeyPair('Ed25519')
    const bogus = await signRecord(wrong, 'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am', 1000n, { lifetimeMs: 3_600_000, ttlMs: 1000 })
    const messages = [
      NameRecord.encode({ key: new Uint8Array(key), record: new Uint8Array(oldRecord) }),
      NameRecord.encode({ key: new Uint8Array(key), record: new Uint8Array(bogus) })
    ].map(m => Buffer.from(m).toString('base64'))
    const file = path.join(tmp.dir, 'forged.json')
    await fs.writeFile(file, JSON.stringify(messages))
    const before = await Promise.all(MIRRORS.map(async i => cli(i, ['name', 'resolve', name])))
    const forger = await lab!.spawnNode(0, FORGER, ['/ip4/127.0.0.1/tcp/0', path.join(tmp.dir, 'forger-ds'), lab!.hosts[1].daemon!.address, namesTopic('lab'), file])
    assert.equal(forger.ready.sent, 2)
    // a few gossip rounds for anything that got through to spread
    await new Promise(resolve => setTimeout(resolve, 5000))
    for (const [k, i] of MIRRORS.entries()) {
      const now = await cli(i, ['name', 'resolve', name])
      assert.deepEqual({ value: now.value, sequence: now.sequence }, { value: before[k].value, sequence: 5 }, `host ${i}`)
      assert.ok(await serves(i, 35), `host ${i} still serves the newest version`)
    }
    forger.child.kill('SIGTERM')
  })
})
