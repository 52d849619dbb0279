/**
 * The gateway's limits and request parsing, in process with stub components: concurrency (429),
 * request size (414, 431), methods (405), and the Range header grammar.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { CID } from 'multiformats/cid'
import { createGateway } from '../../src/gateway/index.js'
import { parseRange } from '../../src/gateway/range.js'
import { sniff } from '../../src/gateway/content-type.js'
import type { Gateway } from '../../src/gateway/index.js'

const MISSING = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

async function get (address: string, target: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<number> {
  const [host, port] = address.split(':')
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), path: target, headers, agent: false, signal }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end()
  })
}

describe('gateway: limits', () => {
  let gateway: Gateway
  let address: string
  let fetches = 0
  let onFetch: () => void = () => {}

  before(async () => {
    gateway = createGateway({
      // an empty store, and an exchange whose blocks never come
      blocks: { getBytes: async () => { throw Object.assign(new Error('not stored'), { name: 'BlockNotFoundError' }) } },
      exchange: {
        fetch: (_root: CID, options?: { signal?: AbortSignal }) => {
          fetches++
          onFetch()
          return {
            blockReady: async () => new Promise<void>((_resolve, reject) => {
              options?.signal?.addEventListener('abort', () => { reject(new Error('aborted')) }, { once: true })
            })
          }
        }
      }
    }, { host: '127.0.0.1', port: 0, maxConcurrentRequests: 1, retrievalTimeoutMs: 60_000, maxUrlLength: 200, maxHeaderSize: 1024 })
    address = await gateway.start()
  })

  after(async () => {
    await gateway.stop()
  })

  it('answers 429 above the concurrency limit, and serves again once below it', async () => {
    const started = new Promise<void>(resolve => { onFetch = resolve })
    const controller = new AbortController()
    const stalled = get(address, `/ipfs/${MISSING}`, {}, controller.signal).catch(() => 'aborted')
    // the first request is waiting on the exchange: it holds the only slot
    await started
    assert.equal(await get(address, `/ipfs/${MISSING}`), 429)
    controller.abort()
    assert.equal(await stalled, 'aborted')
    // the slot is given back when the client goes away
    let status = 429
    for (let i = 0; i < 100 && status === 429; i++) {
      status = await get(address, '/ipfs/not-a-cid')
      if (status === 429) await new Promise(resolve => setTimeout(resolve, 20))
    }
    assert.equal(status, 400)
    assert.ok(fetches >= 1)
  })

  it('answers 414 for a long target, 431 for large headers, 405 for other methods', async () => {
    assert.equal(await get(address, `/ipfs/${MISSING}/${'a'.repeat(300)}`), 414)
    assert.equal(await get(address, `/ipfs/${MISSING}`, { 'X-Big': 'b'.repeat(2000) }), 431)
    const [host, port] = address.split(':')
    const status = await new Promise<number>((resolve, reject) => {
      http.request({ host, port: Number(port), path: `/ipfs/${MISSING}`, method: 'DELETE', agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject).end()
    })
    assert.equal(status, 405)
  })
})

describe('gateway: Range header', () => {
  it('parses single, suffix, open and multiple ranges, clipped to the size', () => {
    assert.deepEqual(parseRange('bytes=0-99', 1000), [{ start: 0, end: 99 }])
    assert.deepEqual(parseRange('bytes=-100', 1000), [{ start: 900, end: 999 }])
    assert.deepEqual(parseRange('bytes=-5000', 1000), [{ start: 0, end: 999 }])
    assert.deepEqual(parseRange('bytes=990-', 1000), [{ start: 990, end: 999 }])
    assert.deepEqual(parseRange('bytes=990-2000', 1000), [{ start: 990, end: 999 }])
    assert.deepEqual(parseRange('bytes=0-0, 5-9', 1000), [{ start: 0, end: 0 }, { start: 5, end: 9 }])
  })

  it('merges overlapping ranges, so no byte is sent twice; keeps the order of ranges apart', () => {
    assert.deepEqual(parseRange('bytes=0-,0-,0-', 1000), [{ start: 0, end: 999 }])
    assert.deepEqual(parseRange('bytes=0-499,0-499', 1000), [{ start: 0, end: 499 }])
    assert.deepEqual(parseRange('bytes=900-, 0-499, 200-799', 1000), [{ start: 0, end: 799 }, { start: 900, end: 999 }])
    assert.deepEqual(parseRange('bytes=-100, 950-959', 1000), [{ start: 900, end: 999 }])
    assert.deepEqual(parseRange('bytes=900-, 0-99', 1000), [{ start: 900, end: 999 }, { start: 0, end: 99 }])
  })

  it('tells unsatisfiable from malformed (ignored) and too many', () => {
    assert.equal(parseRange('bytes=1000-', 1000), 'unsatisfiable')
    assert.equal(parseRange('bytes=5000-6000', 1000), 'unsatisfiable')
    assert.equal(parseRange('bytes=0-0', 0), 'unsatisfiable')
    assert.equal(parseRange(undefined, 1000), undefined)
    assert.equal(parseRange('bytes=9-1', 1000), undefined)
    assert.equal(parseRange('items=0-1', 1000), undefined)
    assert.equal(parseRange('bytes=a-b', 1000), undefined)
    assert.equal(parseRange('bytes=-', 1000), undefined)
    assert.equal(parseRange('bytes=' + Array.from({ length: 17 }, (_, i) => `${i}-${i}`).join(','), 1000), 'too-many')
  })
})

describe('gateway: content sniffing', () => {
  it('knows binary signatures, HTML and text, and calls the rest octet-stream', async () => {
    assert.equal(await sniff(Buffer.from('89504e470d0a1a0a0000000d49484452' + '00'.repeat(32), 'hex')), 'image/png')
    assert.equal(await sniff(Buffer.from('  <!DOCTYPE html><p>x')), 'text/html; charset=utf-8')
    assert.equal(await sniff(Buffer.from('héllo wörld\n')), 'text/plain; charset=utf-8')
    assert.equal(await sniff(Buffer.from([0, 1, 2, 3, 255, 254])), 'application/octet-stream')
  })
})

describe('gateway: gc guard', () => {
  it('holds gc back only while fetching a missing block, never for blocks already stored', async () => {
    const { CID: Cid } = await import('multiformats/cid')
    const { sha256 } = await import('multiformats/hashes/sha2')
    const raw = async (text: string): Promise<{ cid: CID, bytes: Uint8Array }> => {
      const bytes = new TextEncoder().encode(text)
      return { cid: Cid.createV1(0x55, await sha256.digest(bytes)), bytes }
    }
    const stored = await raw('stored block')
    const remote = await raw('a block only a peer has')
    const store = new Map<string, Uint8Array>([[stored.cid.toString(), stored.bytes]])
    let guarded = 0
    const gateway = createGateway({
      blocks: {
        getBytes: async (cid: CID) => {
          const b = store.get(cid.toString())
          if (b == null) throw Object.assign(new Error('not stored'), { name: 'BlockNotFoundError' })
          return b
        }
      },
      exchange: {
        fetch: () => ({
          blockReady: async () => { store.set(remote.cid.toString(), remote.bytes) }
        })
      },
      withWriteGuard: async (fn) => {
        guarded++
        return fn()
      }
    }, { host: '127.0.0.1', port: 0 })
    const address = await gateway.start()
    try {
      const hit = await fetch(`http://${address}/ipfs/${stored.cid}`)
      assert.equal(await hit.text(), 'stored block')
      assert.equal(guarded, 0)
      const miss = await fetch(`http://${address}/ipfs/${remote.cid}?format=raw`)
      assert.equal(miss.status, 200)
      assert.equal(await miss.text(), 'a block only a peer has')
      assert.equal(guarded, 1)
    } finally {
      await gateway.stop()
    }
  })
})
