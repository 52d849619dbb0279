import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import { CID } from 'multiformats/cid'
import { createApiServer } from '../../src/api/server.js'
import { createActivity, createDashboard } from '../../src/dashboard/index.js'
import { PAGE_FILE } from '../../src/dashboard/page.js'
import type { ApiServer } from '../../src/api/server.js'
import type { ShoalApi } from '../../src/interface/types.js'

const ROOT = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
const TOKEN = 'secret-token-that-the-page-never-sees'

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
    it('tracks a fetch through its progress events until it ends', async () => {
      const activity = createActivity({ tickMs: 60_000 })
      const fetch = activity.fetchStarted(ROOT)
      fetch.progress?.({ type: 'fetch:peer', peerId: 'p1', protocol: 'shoal', joined: true, peers: 1 })
      fetch.progress?.({ type: 'fetch:block', blocks: 2, bytes: 3000, fetchedBytes: 2000, totalBytes: 10_000, peers: 1, rate: 500 })
      let snap = activity.snapshot()
      assert.equal(snap.running, 1)
      assert.equal(snap.transfers.length, 1)
      assert.deepEqual({ cid: snap.transfers[0].cid, state: snap.transfers[0].state, bytes: snap.transfers[0].bytes, total: snap.transfers[0].totalBytes, peers: snap.transfers[0].peers },
        { cid: ROOT.toString(), state: 'running', bytes: 3000, total: 10_000, peers: 1 })

      // bytes in are counted once, from the growth of fetchedBytes
      fetch.progress?.({ type: 'fetch:block', blocks: 3, bytes: 5000, fetchedBytes: 4000, totalBytes: 10_000, peers: 1, rate: 500 })
      ;(activity as any).sample()
      snap = activity.snapshot()
      assert.equal(snap.bandwidth.samples.length, 1)
      assert.equal(snap.bandwidth.samples[0].in, Math.round(4000 * 1000 / 60_000))

      fetch.ended('done')
      snap = activity.snapshot()
      assert.equal(snap.running, 0)
      assert.equal(snap.transfers[0].state, 'done')
    })

    it('lists a failed fetch, and drops one that moved nothing', async () => {
      const activity = createActivity({ tickMs: 60_000 })
      const a = activity.fetchStarted(ROOT)
      a.progress?.({ type: 'fetch:block', blocks: 1, bytes: 10, fetchedBytes: 10, peers: 1, rate: 1 })
      a.ended('failed')
      activity.fetchStarted(ROOT).ended('aborted')
      const snap = activity.snapshot()
      assert.deepEqual(snap.transfers.map(t => t.state), ['failed'])
    })
  })

  describe('served by the control API server', () => {
    let server: ApiServer
    let address: string
    const pins = [{ cid: ROOT.toString(), name: '<b>not bold</b>', size: 5, pinnedAt: Date.now() }]
    const api = {
      id: async () => ({ peerId: '12D3KooWtest', addresses: [], agentVersion: 'shoal/test', online: true, reachability: 'unknown' as const, relays: [] }),
      stats: async () => ({ peerId: '12D3KooWtest', online: true, reachability: 'unknown' as const, relays: [], store: { blocks: 1, bytes: 5, pins: 1 }, uptime: 3 }),
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
