/**
 * `shoal testnet`: the one-command demo. A local swarm of N daemons (each a `shoal start` process
 * with its own repo under a temporary directory, on loopback), a sample file published on the
 * first and fetched on the last, each peer's addresses and a summary table; Ctrl-C tears it down.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { InvalidArgumentError } from '../../errors.js'
import { globalsOf } from '../context.js'
import { formatBytes, printResult } from '../output.js'
import type { ShoalApi } from '../../interface/types.js'
import type { SpawnedDaemon } from '../../api/spawn.js'
import type { Command } from 'commander'

const STOP_TIMEOUT = 10_000
/** Presence period of the testnet's peers: membership settles within a few seconds */
const TESTNET_PRESENCE_INTERVAL = 1000

/** Where a daemon's live dashboard is: on its control API port, which binds loopback only */
export function dashboardUrl (api: string): string {
  return `http://${api}/dashboard`
}

interface TestnetPeer extends SpawnedDaemon {
  index: number
  client: ShoalApi & { close(): void }
}

async function startOne (index: number, repo: string, signal: AbortSignal): Promise<TestnetPeer> {
  const { spawnDaemon } = await import('../../api/spawn.js')
  // the repo's path names the peer in errors
  const daemon = await spawnDaemon({ repo, signal })
  try {
    const token = (await fs.readFile(path.join(repo, 'api.token'), 'utf8')).trim()
    const { createApiClient } = await import('../../api/client.js')
    return { ...daemon, index, client: createApiClient({ address: daemon.api, token }) }
  } catch (err) {
    await daemon.stop('SIGKILL')
    throw err
  }
}

async function stopAll (peers: TestnetPeer[]): Promise<void> {
  await Promise.all(peers.map(async (p) => {
    p.client.close()
    await p.stop('SIGTERM', { graceMs: STOP_TIMEOUT })
  }))
}

function short (peerId: string): string {
  return peerId.length > 16 ? `${peerId.slice(0, 8)}…${peerId.slice(-6)}` : peerId
}

function table (rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  return rows.map(r => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd())
}

export function register (command: Command): void {
  command
    .option('--peers <n>', 'daemons to start (2 to 64)', '5')
    .option('--size <bytes>', 'size of the sample file', String(4 * 1024 * 1024))
    .option('--dir <dir>', 'parent of the temporary directory that holds the repos (default: the system temp dir)')
    .option('--once', 'tear down after the demo instead of waiting for Ctrl-C')
    .action(async (opts: { peers: string, size: string, dir?: string, once?: boolean }, ...rest: any[]) => {
      const globals = globalsOf(rest)
      const n = Number(opts.peers)
      const size = Number(opts.size)
      if (!Number.isInteger(n) || n < 2 || n > 64) throw new InvalidArgumentError(`invalid --peers "${opts.peers}": give a whole number from 2 to 64`)
      if (!Number.isInteger(size) || size < 1 || size > 1024 ** 3) throw new InvalidArgumentError(`invalid --size "${opts.size}": give a whole number of bytes from 1 to 1 GiB`)
      const say = (line: string): void => { if (globals.json !== true) process.stderr.write(`${line}\n`) }

      // Ctrl-C at any point (also while starting) leads to the same teardown
      const interrupted = new AbortController()
      let stop!: () => void
      const stopped = new Promise<void>(resolve => { stop = resolve })
      const onSignal = (): void => { say('testnet: shutting down'); interrupted.abort(); stop() }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)

      const os = await import('node:os')
      const { createHash, randomBytes } = await import('node:crypto')
      const { swarmConfigText } = await import('../../peer/config.js')
      const { initRepo } = await import('../../peer/repo.js')
      const dir = await fs.mkdtemp(path.join(opts.dir ?? os.tmpdir(), 'shoal-testnet-'))
      const peers: TestnetPeer[] = []
      try {
        const base = JSON.parse((await swarmConfigText('local')).text)
        base.discovery.mdns = false // only this testnet's peers meet, through the first one
        base.addresses.listen = ['/ip4/127.0.0.1/tcp/0']
        base.gossip.presenceIntervalMs = TESTNET_PRESENCE_INTERVAL
        say(`testnet: starting ${n} peers under ${dir}`)
        const startedAt = Date.now()
        for (let i = 0; i < n; i++) {
          const repo = path.join(dir, `peer-${i}`)
          const config = structuredClone(base)
          config.swarm = 'testnet'
          if (i > 0) config.bootstrap = [peers[0].addresses[0]]
          await initRepo(repo, { configText: JSON.stringify(config, null, 2) })
          // the first is the bootstrap peer; the rest start together
          if (i === 0) peers.push(await startOne(0, repo, interrupted.signal))
        }
        peers.push(...await Promise.all(Array.from({ length: n - 1 }, async (_, k) => startOne(k + 1, path.join(dir, `peer-${k + 1}`), interrupted.signal))))
        const startMs = Date.now() - startedAt

        // wait (bounded) until the first peer sees every member alive
        const membersBy = Date.now() + 30_000
        let members = 0
        while (!interrupted.signal.aborted && Date.now() < membersBy) {
          members = (await peers[0].client.members()).filter(m => m.state === 'alive').length
          if (members >= n) break
          await new Promise(resolve => setTimeout(resolve, 250))
        }

        // publish a sample file on the first peer, fetch it on the last, compare
        const sample = randomBytes(size)
        const digest = createHash('sha256').update(sample).digest('hex')
        const publisher = peers[0]
        const fetcher = peers[peers.length - 1]
        let t = Date.now()
        const published = await publisher.client.publish((async function * () {
          yield { path: 'sample.bin', kind: 'file' as const, content: (async function * () { yield sample })() }
        })(), { signal: interrupted.signal })
        const publishMs = Date.now() - t
        t = Date.now()
        const fetched = await fetcher.client.fetch(published.cid, { signal: interrupted.signal })
        const fetchMs = Date.now() - t
        const hash = createHash('sha256')
        for await (const chunk of fetcher.client.cat(published.cid, { signal: interrupted.signal })) hash.update(chunk)
        const identical = hash.digest('hex') === digest

        const rows = peers.map(p => ({
          peer: p.index,
          peerId: p.peerId,
          role: p === publisher ? 'publisher, bootstrap' : p === fetcher ? 'fetcher' : '',
          api: `http://${p.api}`,
          gateway: p.gateway != null ? `http://${p.gateway}` : '-',
          dashboard: dashboardUrl(p.api),
          repo: p.repo
        }))
        const summary = {
          peers: n,
          dir,
          cid: published.cid,
          size,
          startMs,
          membersAlive: members,
          publishMs,
          fetchMs,
          fetchedBytes: fetched.fetchedBytes,
          fetchRate: fetchMs > 0 ? Math.round(size / (fetchMs / 1000)) : null,
          identical
        }
        printResult(globals, [
          ...table([['#', 'peer', 'role', 'API', 'gateway', 'dashboard'],
            ...rows.map(r => [String(r.peer), short(r.peerId), r.role, r.api, r.gateway, r.dashboard])]),
          '',
          ...table([
            ['peers started', `${n} in ${(startMs / 1000).toFixed(1)} s (repos under ${dir})`],
            ['members alive (seen by peer 0)', `${members} of ${n}`],
            ['sample', `${published.cid} (${formatBytes(size)})`],
            ['sample on a gateway', fetcher.gateway != null ? `http://${fetcher.gateway}/ipfs/${published.cid}` : '-'],
            ['published on peer 0', `${publishMs} ms`],
            [`fetched on peer ${fetcher.index}`, `${fetchMs} ms, ${formatBytes(summary.fetchRate ?? 0)}/s, byte-identical: ${identical ? 'yes' : 'NO'}`]
          ]),
          '',
          opts.once === true ? 'testnet: tearing down' : 'testnet: running; press Ctrl-C to stop and remove everything'
        ], { ...summary, peerList: rows })
        if (!identical) process.exitCode = 1
        if (opts.once !== true) await stopped
      } catch (err) {
        if (!interrupted.signal.aborted) throw err
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
        await stopAll(peers)
        await fs.rm(dir, { recursive: true, force: true })
        say('testnet: stopped; every peer and repo removed')
      }
    })
}
