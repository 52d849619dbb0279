import assert from 'node:assert/strict'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { logger } from '@libp2p/logger'
import { FetchSession } from '../../src/exchange/session.js'
import { RateLimiter } from '../../src/exchange/rate.js'
import { SharedFetch } from '../../src/exchange/shared-fetch.js'
import type { ExchangeBlocks } from '../../src/exchange/index.js'

async function rawBlock (text: string): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(text)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

/** A store holding `stored`, whose has() answers are held until `release()` when `hold` says so */
function store (stored: Map<string, Uint8Array>, hold: (call: number) => boolean): ExchangeBlocks & { release(): void } {
  const held: Array<() => void> = []
  let calls = 0
  return {
    async has (cid) {
      const answer = stored.has(cid.toString())
      if (hold(calls++)) await new Promise<void>((resolve) => { held.push(resolve) })
      return answer
    },
    async sizeOf (cid) { return stored.get(cid.toString())?.byteLength },
    async getBytes (cid) {
      const bytes = stored.get(cid.toString())
      if (bytes == null) throw new Error('not stored')
      return bytes
    },
    async serveBytes (cid) { return await this.getBytes(cid) },
    async put (cid) { return cid },
    async putVerified () { return true },
    release () { for (const r of held.splice(0)) r() }
  }
}

function session (root: CID, blocks: ExchangeBlocks, signal?: AbortSignal): FetchSession {
  return new FetchSession({ root, blocks, log: logger('test'), download: new RateLimiter(0), ban: () => {}, signal })
}

describe('exchange: fetch session', () => {
  it('wakes a caller whose block is stored while it asks the store', async () => {
    const { cid, bytes } = await rawBlock('stored while asked')
    const stored = new Map<string, Uint8Array>()
    // the caller's question is answered "not stored", late: the session stores it meanwhile
    const blocks = store(stored, (call) => call === 0)
    const s = session(cid, blocks)
    const ready = s.blockReady(cid)
    stored.set(cid.toString(), bytes)
    await s.start()
    await s.result
    blocks.release()
    const outcome = await Promise.race([ready.then(() => 'ready'), new Promise((resolve) => setTimeout(() => { resolve('still waiting') }, 1000))])
    assert.equal(outcome, 'ready')
  })

  it('fails a caller waiting for a block outside the DAG when the fetch ends', async () => {
    const root = await rawBlock('the root')
    const other = await rawBlock('not in the DAG')
    const stored = new Map([[root.cid.toString(), root.bytes]])
    const s = session(root.cid, store(stored, () => false))
    const waiting = s.blockReady(other.cid)
    await s.start()
    await s.result
    await assert.rejects(waiting, { name: 'BlockNotFoundError', message: /not part of that DAG/ })
    await assert.rejects(s.blockReady(other.cid), { name: 'BlockNotFoundError', message: /not part of the DAG/ })
    await s.blockReady(root.cid)
  })

  it('does not give up for want of peers while a peer a later caller named is being added', async () => {
    const { cid } = await rawBlock('wanted')
    const s = session(cid, store(new Map(), () => false))
    await s.start()
    const added = s.expectPeer()
    s.providersDone()
    assert.equal(s.running, true)
    added()
    await assert.rejects(s.result, { name: 'BlockNotFoundError', message: /no peer can serve/ })
  })

  it('shared: a caller that leaves stops waiting for blocks and gets its abort; the others stay', async () => {
    const { cid } = await rawBlock('never arrives')
    const shared = new SharedFetch()
    shared.session = session(cid, store(new Map(), () => false), shared.signal)
    const stays = shared.attach({})
    const leaving = new AbortController()
    const leaves = shared.attach({ signal: leaving.signal })
    const waiting = leaves.blockReady(cid)
    const waitingResult = leaves.result
    const reason = new Error('left')
    leaving.abort(reason)
    await assert.rejects(waiting, reason)
    await assert.rejects(waitingResult, reason)
    assert.equal(shared.session.running, true)
    assert.equal(shared.signal.aborted, false)
    // the last caller able to leave leaves: the session stops
    const last = new AbortController()
    const third = shared.attach({ signal: last.signal })
    last.abort(reason)
    await assert.rejects(third.result, reason)
    assert.equal(shared.signal.aborted, false, 'a caller without a signal still holds it')
    void stays

    // when every caller has left, the session stops
    const alone = new SharedFetch()
    alone.session = session(cid, store(new Map(), () => false), alone.signal)
    const one = new AbortController()
    const two = new AbortController()
    const first = alone.attach({ signal: one.signal })
    const second = alone.attach({ signal: two.signal })
    one.abort(reason)
    await assert.rejects(first.result, reason)
    assert.equal(alone.signal.aborted, false)
    two.abort(reason)
    await assert.rejects(second.result, reason)
    assert.equal(alone.signal.aborted, true)
    assert.equal(alone.session.running, false)
  })

  it('shared: a caller whose limit the DAG passes leaves with ContentTooLargeError; the others stay', async () => {
    const { cid } = await rawBlock('large')
    const shared = new SharedFetch()
    shared.session = session(cid, store(new Map(), () => false), shared.signal)
    const told: number[] = []
    const capped = shared.attach({ maxBytes: 1000 })
    const other = shared.attach({ onProgress: (e) => { if (e.type === 'fetch:block') told.push(e.bytes) } })
    shared.progress({ type: 'fetch:block', blocks: 1, bytes: 600, fetchedBytes: 600, peers: 1, rate: 0 })
    shared.progress({ type: 'fetch:block', blocks: 2, bytes: 900, fetchedBytes: 900, totalBytes: 5000, peers: 1, rate: 0 })
    await assert.rejects(capped.result, { name: 'ContentTooLargeError', message: /larger than the 1000 bytes/ })
    assert.deepEqual(told, [600, 900])
    assert.equal(shared.session.running, true)
    void other
  })
})
