import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import { CID } from 'multiformats/cid'
import { createApiServer } from '../../src/api/server.js'
import { createActivity, createDashboard } from '../../src/dashboard/index.js'
import { PAGE_FILE } from '../../src/dashboard/page.js'
import type { ApiServer } from '../../src/api/server.js'
import type { ShoalApi } from '../../src/api/types.js'
import type { FetchProgressEvent } from '../../src/exchange/index.js'

const ROOT = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
const TOKEN = 'secret-token-that-the-page-never-sees'

/** A fetch session whose progress and end the test drives */
function stubExchange (): { exchange: { fetch(root: CID, options?: any): { result: Promise<void> } }, emit(e: FetchProgressEvent): void, finish(err?: Error): void, seen: FetchProgressEvent[] } {
  let onProgress: ((e: FetchProgressEvent) => void) | undefined
  let settle!: (err?: Error) => void
  const seen: FetchProgressEvent[] = []
  return {
    exchange: {
      fetch: (_root, options) => {
        onProgress = options?.onProgress
        return { result: new Promise<void>((resolve, reject) => { settle = (err) => { err != null ? reject(err) : resolve() } }) }
      }
    },
    emit: (e) => { onProgress?.(e) },
    finish: (err) => { settle(err) },
    seen
  }
}

async function get (address: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: string }> {
  const [host, port] = address.split(':')
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), path, method, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        body += d
        // an event stream never ends: stop at its first event
        const at = body.indexOf('data:')
        if (res.headers['content-type']?.startsWith('text/event-stream') === true && at >= 0 && body.includes('\n\n', at)) {
          res.destroy()
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body })
        }
      })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
    })
    req.on('error', reject)
    req.end()
  })
}

describe('dashboard', () => {
  describe('activity', () => {
    it('tracks a fetch session through its progress events, and still tells the caller', async () => {
      const activity = createActivity({ tickMs: 60_000 })
      const stub = stubExchange()
      const tracked = activity.track(stub.exchange)
      const told: FetchProgressEvent[] = []
      const session = tracked.fetch(ROOT, { onProgress: (e: FetchProgressEvent) => told.push(e) })
      stub.emit({ type: 'fetch:peer', peerId: 'p1', protocol: 'shoal', joined: true, peers: 1 })
      stub.emit({ type: 'fetch:block', blocks: 2, bytes: 3000, fetchedBytes: 2000, totalBytes: 10_000, peers: 1, rate: 500 })
      let snap = activity.snapshot()
      assert.equal(snap.running, 1)
      assert.equal(snap.transfers.length, 1)
      assert.deepEqual({ cid: snap.transfers[0].cid, state: snap.transfers[0].state, bytes: snap.transfers[0].bytes, total: snap.transfers[0].totalBytes, peers: snap.transfers[0].peers },
        { cid: ROOT.toString(), state: 'running', bytes: 3000, total: 10_000, peers: 1 })
      assert.equal(told.length, 2)

      // bytes in are counted once, from the growth of fetchedBytes
      stub.emit({ type: 'fetch:block', blocks: 3, bytes: 5000, fetchedBytes: 4000, totalBytes: 10_000, peers: 1, rate: 500 })
      ;(activity as any).sample()
      snap = activity.snapshot()
      assert.equal(snap.bandwidth.samples.length, 1)
      assert.equal(snap.bandwidth.samples[0].in, Math.round(4000 * 1000 / 60_000))

      stub.finish()
      await session.result
      snap = activity.snapshot()
      assert.equal(snap.running, 0)
      assert.equal(snap.transfers[0].state, 'done')
    })

    it('lists a failed session, and drops one that moved nothing', async () => {
      const activity = createActivity({ tickMs: 60_000 })
      const a = stubExchange()
      const s1 = activity.track(a.exchange).fetch(ROOT)
      a.emit({ type: 'fetch:block', blocks: 1, bytes: 10, fetchedBytes: 10, peers: 1, rate: 1 })
      a.finish(Object.assign(new Error('no peer'), { name: 'BlockNotFoundError' }))
      await s1.result.catch(() => {})
      const b = stubExchange()
      const s2 = activity.track(b.exchange).fetch(ROOT)
      b.finish(Object.assign(new Error('aborted'), { name: 'AbortError' }))
      await s2.result.catch(() => {})
      const snap = activity.snapshot()
      assert.deepEqual(snap.transfers.map(t => t.state), ['failed'])
    })
  })

  describe('served by the control API server', () => {
    let server: ApiServer
    let address: string
    const pins = [{ cid: ROOT.toString(), name: '<b>not bold</b>', size: 5, pinnedAt: Date.now() }]
    const api = {
      id: async () => ({ peerId: '12D3KooWtest', addresses: [], agentVersion: 'shoal/test', online: true }),
      stats: async () => ({ peerId: '12D3KooWtest', online: true, store: { blocks: 1, bytes: 5, pins: 1 }, uptime: 3 }),
      members: async () => [{ peerId: '12D3KooWtest', addresses: [], version: 'v', free: 1, uploads: 0, uploadSlots: 16, pins: 1, lastSeen: Date.now(), interval: 1000, state: 'alive' as const, self: true }],
      pinLs: async () => pins
    }
    const dashboard = createDashboard({ api, activity: createActivity() }, { tickMs: 100 })

    before(async () => {
      server = createApiServer({ api: api as unknown as ShoalApi, host: '127.0.0.1', port: 0, token: TOKEN, dashboard })
      address = await server.start()
    })

    after(async () => {
      dashboard.stop()
      await server.stop()
    })

    it('serves the page without the token, with a CSP that allows only its own script and style', async () => {
      const res = await get(address, '/dashboard')
      assert.equal(res.status, 200)
      assert.match(String(res.headers['content-type']), /^text\/html/)
      const csp = String(res.headers['content-security-policy'])
      assert.match(csp, /default-src 'none'/)
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
      const html = await fs.readFile(PAGE_FILE, 'utf8')
      const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? ''
      assert.ok(csp.includes(`'sha256-${createHash('sha256').update(script).digest('base64')}'`), csp)
      assert.equal(res.headers['x-frame-options'], 'DENY')
      assert.ok(!res.body.includes(TOKEN))
    })

    it('streams snapshots of status, with peer-supplied names as data', async () => {
      const res = await get(address, '/dashboard/events')
      assert.equal(res.status, 200)
      assert.match(String(res.headers['content-type']), /^text\/event-stream/)
      const data = /^data: (.*)$/m.exec(res.body)?.[1]
      const snap = JSON.parse(data ?? '')
      assert.equal(snap.self.peerId, '12D3KooWtest')
      assert.equal(snap.members.length, 1)
      assert.equal(snap.pins.items[0].name, '<b>not bold</b>')
      assert.ok(!res.body.includes(TOKEN))
      const one = await get(address, '/dashboard/snapshot')
      assert.equal(JSON.parse(one.body).self.peerId, '12D3KooWtest')
    })

    it('changes nothing and weakens nothing: other methods, other origins and other hosts are refused', async () => {
      assert.equal((await get(address, '/dashboard', {}, 'POST')).status, 405)
      assert.equal((await get(address, '/dashboard/events', { Origin: 'http://evil.example' })).status, 403)
      assert.equal((await get(address, '/dashboard', { Host: 'evil.example:80' })).status, 403)
      assert.equal((await get(address, '/dashboard/nope')).status, 404)
      // the API itself still wants its token
      assert.equal((await get(address, '/api/v0/id', {}, 'POST')).status, 401)
    })
  })
})
