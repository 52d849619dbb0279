/**
 * bench/names' agent inside a lab host's namespace (the daemon's API and gateway are reachable
 * there only). Each run does one thing and prints one JSON line per event, so the times it
 * gives are taken where the thing happens, whatever starting the process cost:
 *
 *   node names-agent.js publish REPO CID KEY TTL_MS   {"t0"} just before the call, then {"sequence"}
 *   node names-agent.js wait GATEWAY PATH SHA256 MS   {"polling":true}, then {"at","asked"} when the
 *                                                      gateway serves bytes of that hash (polled every
 *                                                      20 ms; asked: when that request was sent)
 */
import { createHash } from 'node:crypto'
import { createApiClient } from '../src/api/client.js'
import { daemonAddress } from '../src/api/connect.js'

const POLL = 20
const [op, ...args] = process.argv.slice(2)
const line = (o: unknown): void => { process.stdout.write(JSON.stringify(o) + '\n') }

async function publish ([repo, cid, key, ttl]: string[]): Promise<void> {
  const found = await daemonAddress(repo)
  if (found == null) throw new Error(`no daemon runs on ${repo}`)
  const api = createApiClient({ address: found.address, token: found.token })
  line({ t0: Date.now() })
  const r = await api.namePublish(cid, { key, ttlMs: Number(ttl) })
  line({ sequence: r.sequence, done: Date.now() })
  api.close()
}

async function wait ([gateway, path, sha, ms]: string[]): Promise<void> {
  line({ polling: true })
  const deadline = Date.now() + Number(ms)
  while (Date.now() < deadline) {
    // when the request that saw it was sent: served - asked is the gateway's answer, the rest the poll's wait
    const asked = Date.now()
    try {
      const res = await fetch(`http://${gateway}${path}`, { signal: AbortSignal.timeout(5000) })
      const body = Buffer.from(await res.arrayBuffer())
      if (res.status === 200 && createHash('sha256').update(body).digest('hex') === sha) {
        line({ at: Date.now(), asked })
        return
      }
    } catch {}
    await new Promise(resolve => setTimeout(resolve, POLL))
  }
  line({ timeout: true })
}

const ops: Record<string, (a: string[]) => Promise<void>> = { publish, wait }
const fn = ops[op]
if (fn == null) {
  process.stderr.write(`names-agent: unknown operation ${op}\n`)
  process.exit(2)
}
fn(args).then(() => { process.exit(0) }, (err) => {
  process.stderr.write(`names-agent: ${err.message}\n`)
  process.exit(1)
})
