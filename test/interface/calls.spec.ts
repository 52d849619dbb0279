import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import http from 'node:http'
import { accessOf, calls } from '../../src/interface/calls.js'
import { count, flag, fromQuery, list, optional, text } from '../../src/interface/checks.js'
import { localApi } from '../../src/interface/local.js'
import { createApiServer } from '../../src/api/server.js'
import { rejectsNamed } from '../helpers/assert.js'
import type { ApiServer } from '../../src/api/server.js'
import type { ShoalApi } from '../../src/interface/types.js'

const CID = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

async function post (address: string, path: string, token: string, body: string): Promise<{ status: number, json: any }> {
  const [host, port] = address.split(':')
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), path, method: 'POST', agent: false, headers: { Authorization: `Bearer ${token}`, 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || 'null') }) })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** A room with every call, doing nothing */
const everyCall = Object.fromEntries(Object.keys(calls).map(name => [name, async () => {}])) as Partial<ShoalApi>

describe('api: the table of calls', () => {
  it('gives each call its own path', () => {
    const paths = Object.values(calls).map(c => c.path)
    assert.equal(new Set(paths).size, paths.length)
  })

  it('a command needs the most any of its calls needs', () => {
    assert.equal(accessOf(['pinLs']), 'read')
    assert.equal(accessOf(['ls', 'pinAdd']), 'write')
    assert.equal(accessOf(['get', 'fetch']), 'daemon')
  })

  it('checks say which argument is wrong, and take null for absent', () => {
    assert.throws(() => count()(1.5, 'limit'), { name: 'InvalidArgumentError', message: /"limit" must be a whole number/ })
    assert.throws(() => count(64)(65, 'replicas'), { name: 'InvalidArgumentError', message: /"replicas" must be a whole number from 0 to 64/ })
    assert.throws(() => text('', 'path'), { name: 'InvalidArgumentError', message: /"path"/ })
    assert.throws(() => flag('yes', 'drop'), { name: 'InvalidArgumentError', message: /"drop" must be true or false/ })
    assert.throws(() => list(text, { max: 2 })(['a', 'b', 'c'], 'from'), { name: 'InvalidArgumentError', message: /at most 2/ })
    assert.equal(optional(count())(null, 'offset'), undefined)
    assert.deepEqual(list(text)(['a'], 'from'), ['a'])
  })

  it('reads options from a query string as their checks take them', () => {
    const q = new URLSearchParams('pin=false&replicas=3&tag=a&tag=b&bad=&n=x')
    assert.equal(fromQuery(q, 'pin', optional(flag)), false)
    assert.equal(fromQuery(q, 'replicas', optional(count())), 3)
    assert.deepEqual(fromQuery(q, 'tag', optional(list(text))), ['a', 'b'])
    assert.equal(fromQuery(q, 'tags', optional(list(text))), undefined)
    assert.throws(() => count()(fromQuery(q, 'bad', count()), 'bad'), { name: 'InvalidArgumentError' })
    assert.throws(() => count()(fromQuery(q, 'n', count()), 'n'), { name: 'InvalidArgumentError' })
  })

  it('loads without libp2p, the DHT, gossipsub, the gateway or the content code, with the HTTP client', () => {
    // every module the import resolves, written at once (the loader runs in a thread of its own)
    const hooks = 'import { writeSync } from "node:fs"; export async function resolve (s, c, next) { const r = await next(s, c); writeSync(2, "LOADED " + r.url + "\\n"); return r }'
    const client = new URL('../../src/api/client.js', import.meta.url).href
    const script = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)})); await import(${JSON.stringify(client)})`
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    const loaded = r.stderr.split('\n').filter(l => l.startsWith('LOADED ')).map(l => l.slice(7))
    assert.ok(loaded.some(u => u.endsWith('/interface/calls.js')), 'the trace sees the table load')
    const heavy = loaded.filter(u => /@libp2p|@chainsafe|kad-dht|gossipsub|ipfs-unixfs|\/src\/(gateway|peer|content|exchange|dashboard)\//.test(u))
    assert.deepEqual(heavy, [])
  })

  describe('in process', () => {
    it('refuses a bad argument before the room sees the call, where the result surfaces', async () => {
      const seen: string[] = []
      const api = localApi([{
        pinAdd: async (cid: string) => { seen.push(cid); return { cid, name: '', size: 0, pinnedAt: 0 } },
        cat: async function * (path: string) { seen.push(path); yield new Uint8Array(1) }
      }, everyCall], { repo: '/repo' })
      await rejectsNamed(api.pinAdd(CID, { name: 7 as any }), 'InvalidArgumentError', /"name"/)
      const stream = api.cat(CID, { offset: -1 })
      assert.deepEqual(seen, [], 'nothing is called before the stream is read')
      await rejectsNamed((async () => { for await (const _ of stream); })(), 'InvalidArgumentError', /"offset"/)
      assert.deepEqual(seen, [])
      await api.pinAdd(CID, { name: 'ok' })
      assert.deepEqual(seen, [CID])
    })

    it('refuses what the peer cannot do as it was opened, by name, before the room sees it', async () => {
      const seen: string[] = []
      const room = Object.fromEntries(Object.keys(calls).map(name => [name, async () => { seen.push(name) }])) as Partial<ShoalApi>
      const reader = localApi([room], { repo: '/repo', readOnly: true, offline: true })
      await rejectsNamed(reader.pinAdd(CID), 'RepoReadOnlyError', /pin add writes to repo \/repo/)
      await rejectsNamed(reader.gc(), 'RepoReadOnlyError')
      await rejectsNamed(reader.fetch(CID), 'DaemonNotRunningError', /fetch needs a running daemon/)
      await reader.pinLs()
      await reader.stats()
      assert.deepEqual(seen, ['pinLs', 'stats'])
      const writer = localApi([room], { repo: '/repo', offline: true })
      await writer.pinAdd(CID)
      assert.deepEqual(seen, ['pinLs', 'stats', 'pinAdd'])
    })

    it('needs a room for every call', () => {
      assert.throws(() => localApi([{ id: async () => ({}) as any }], { repo: '/repo' }), /no room implements the API call/)
    })
  })

  describe('served', () => {
    const TOKEN = 'calls-spec'
    let server: ApiServer
    let address: string
    const seen: unknown[][] = []
    const api = {
      pinAdd: async (cid: string, options: any) => { seen.push(['pinAdd', cid, options.name]); return { cid, name: options.name ?? cid, size: 0, pinnedAt: 1 } },
      pinLs: async () => [],
      pinRm: async (cid: string) => { seen.push(['pinRm', cid]) }
    }

    before(async () => {
      server = createApiServer({ api: api as unknown as ShoalApi, host: '127.0.0.1', port: 0, token: TOKEN })
      address = await server.start()
    })

    after(async () => { await server.stop() })

    it('answers a wrong argument with 400 naming it, without making the call', async () => {
      for (const body of [{ cid: 5 }, {}, { cid: CID, name: ['x'] }]) {
        const r = await post(address, '/api/v0/pin/add', TOKEN, JSON.stringify(body))
        assert.equal(r.status, 400, JSON.stringify(body))
        assert.equal(r.json.error.name, 'InvalidArgumentError')
        assert.match(r.json.error.message, /"(cid|name)"/)
      }
      assert.deepEqual(seen, [])
    })

    it('makes the call with checked arguments, ignoring keys it does not know, and replies as the table says', async () => {
      const r = await post(address, '/api/v0/pin/add', TOKEN, JSON.stringify({ cid: CID, name: null, extra: 1 }))
      assert.equal(r.status, 200)
      assert.deepEqual(r.json, { cid: CID, name: CID, size: 0, pinnedAt: 1 })
      assert.deepEqual((await post(address, '/api/v0/pin/ls', TOKEN, '')).json, { pins: [] })
      assert.deepEqual((await post(address, '/api/v0/pin/rm', TOKEN, JSON.stringify({ cid: CID }))).json, {})
      assert.deepEqual(seen, [['pinAdd', CID, undefined], ['pinRm', CID]])
    })
  })
})
