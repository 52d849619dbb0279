/**
 * bench/names --lab: the same figures as on loopback, in the lab (test/lab: a network namespace
 * per host, 40 ms RTT and 1% loss on every link, docs/lab.md). Host 0 publishes, hosts 1..N
 * follow. Times come from names-agent.js processes inside the namespaces: the publisher's agent
 * notes the clock just before its `name publish` API call, and one agent per mirror, started
 * before that call, polls its gateway every 20 ms and notes when the changed page is served
 * (one clock: every namespace is on this machine). Starting processes costs nothing measured.
 */
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Lab, WAN, labSupport } from '../test/lab/lab.js'
import type { ChildProcess } from 'node:child_process'

const AGENT = fileURLToPath(new URL('./names-agent.js', import.meta.url))
const DEADLINE = 120_000

export interface LabRunOptions {
  dir: string
  mirrors: number
  updates: number
  files: number
  page: number
  ttlMs: number
  gossip: boolean
  log(line: string): void
}

export interface RunFigures {
  latencies: number[]
  ratios: number[]
}

/** Why the lab cannot run here, or undefined when it can */
export async function labMissing (): Promise<string | undefined> {
  const s = await labSupport()
  return s.ok ? undefined : s.reason
}

/** When a process has exited and its output is read whole */
async function closed (child: ChildProcess): Promise<void> {
  if (child.stdout == null || child.stdout.destroyed) return
  await new Promise(resolve => child.once('close', resolve))
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

let running: Lab | undefined

/** Take down the lab of a run cut off (a signal): its namespaces and processes */
export async function destroyLab (): Promise<void> {
  await running?.destroy()
}

export async function runInLab (o: LabRunOptions): Promise<RunFigures> {
  const lab = await Lab.create({ dir: path.join(o.dir, 'lab'), hosts: 1 + o.mirrors, profile: WAN })
  running = lab
  try {
    for (const note of lab.notes) o.log(`  lab: ${note}`)
    const mirrors = Array.from({ length: o.mirrors }, (_, i) => i + 1)
    const gossip = (c: any): void => { c.names.gossip = o.gossip }
    const boot = await lab.start(0, gossip)
    await Promise.all(mirrors.map(async i => lab.start(i, c => { gossip(c); c.bootstrap = [boot.address] })))
    const cli = async (i: number, args: string[]): Promise<any> => {
      const r = await lab.cli(i, ['--json', ...args], { timeoutMs: DEADLINE })
      if (r.code !== 0) throw new Error(`host ${i}: shoal ${args.join(' ')}: ${r.stderr.trim().split('\n').pop() ?? ''}`)
      return JSON.parse(r.stdout.trim().split('\n').filter(l => l.startsWith('{')).pop() ?? '{}')
    }
    const name: string = (await cli(0, ['key', 'gen', 'site'])).id
    for (const i of mirrors) await cli(i, ['follow', name])
    const site = path.join(o.dir, `site-${o.gossip ? 'gossip' : 'dht'}`)
    await fs.mkdir(site, { recursive: true })
    const files = Array.from({ length: o.files }, () => randomBytes(o.page))
    for (let f = 0; f < o.files; f++) await fs.writeFile(path.join(site, `page-${f}.bin`), files[f])

    /** Agents polling every mirror for page `f` with its current bytes; resolve with when each served it, and when the request that saw it was sent */
    const watch = async (f: number): Promise<Array<Promise<{ at: number, asked: number }>>> => {
      const agents = await Promise.all(mirrors.map(async (i) => {
        const gw = lab.hosts[i].daemon?.gateway as string
        return { i, ...await lab.spawnNode(i, AGENT, ['wait', gw, `/ipns/${name}/page-${f}.bin`, sha(files[f]), String(DEADLINE)]) }
      }))
      return agents.map(async ({ i, child, stdout }) => new Promise<{ at: number, asked: number }>((resolve, reject) => {
        const done = (): void => {
          const seen = stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).find(x => x.at != null)
          if (seen == null) reject(new Error(`host ${i} did not serve page ${f} within ${DEADLINE} ms`))
          else resolve({ at: seen.at, asked: seen.asked ?? seen.at })
        }
        closed(child).then(done, reject)
      }))
    }
    /** When the name publish call was made, and when it returned (the record is pushed on gossip before it returns) */
    const namePublish = async (cid: string): Promise<{ t0: number, done: number }> => {
      const { child, ready, stdout } = await lab.spawnNode(0, AGENT, ['publish', lab.hosts[0].repo, cid, 'site', String(o.ttlMs)])
      await closed(child)
      const done = stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).find(x => x.sequence != null)?.done
      if (done == null) throw new Error(`name publish failed on host 0: ${stdout()}`)
      return { t0: ready.t0, done }
    }

    const first = await watch(0)
    await namePublish((await cli(0, ['publish', site, '--no-announce'])).cid)
    await Promise.all(first)
    const latencies: number[] = []
    const ratios: number[] = []
    for (let u = 0; u < o.updates; u++) {
      const changed = (u * 7 + 1) % o.files
      files[changed] = randomBytes(o.page)
      await fs.writeFile(path.join(site, `page-${changed}.bin`), files[changed])
      // stored first, untimed; the clock runs from the name publish call
      const { cid } = await cli(0, ['publish', site, '--no-announce'])
      const served = await watch(changed)
      const { t0, done } = await namePublish(cid)
      const seen = await Promise.all(served)
      const at = seen.map(s => s.at)
      latencies.push(...at.map(t => t - t0))
      const steps: string[] = []
      for (const i of mirrors) {
        const [f] = (await cli(i, ['follow'])).names
        const v = f.versions.find((x: any) => x.cid === cid) ?? f.current
        if (v?.fetchedBytes != null) ratios.push(v.fetchedBytes / o.page)
        steps.push(`${v?.heardAt - t0}/${v?.at - t0}/${seen[i - 1].asked - t0}/${at[i - 1] - t0}`)
      }
      o.log(`    update ${u + 1} (name publish called at ${t0}): every mirror serving after ${Math.max(...at) - t0} ms (first ${Math.min(...at) - t0} ms); name publish returned after ${done - t0} ms; per mirror, record heard / version whole / the gateway asked / served, ms: ${steps.join(' ')}`)
    }
    return { latencies, ratios }
  } finally {
    running = undefined
    await lab.destroy()
  }
}
