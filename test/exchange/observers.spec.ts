/**
 * What watches the exchange: fetch observers hear each fetch's progress as its caller does and
 * how it ended; metrics hear each block stored, by protocol.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { importContent } from '../../src/content/index.js'
import { createExchange } from '../../src/exchange/index.js'
import { createStore } from '../../src/store/index.js'
import { startHost } from '../helpers/host.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Exchange, FetchObserver, FetchOutcome, FetchProgressEvent } from '../../src/exchange/index.js'
import type { ChannelProtocol } from '../../src/exchange/channel.js'
import type { Host } from '../../src/host/index.js'
import type { Store } from '../../src/store/index.js'

interface Watched { root: string, events: FetchProgressEvent[], outcome?: FetchOutcome }

describe('exchange: observers', function () {
  this.timeout(60_000)
  let tmp: Awaited<ReturnType<typeof tmpDir>>
  const hosts: Host[] = []
  const stores: Store[] = []
  const exchanges: Exchange[] = []
  const watched: Watched[] = []
  const stored: Array<{ protocol: ChannelProtocol, bytes: number }> = []
  const observer: FetchObserver = {
    fetchStarted: (root) => {
      const w: Watched = { root: root.toString(), events: [] }
      watched.push(w)
      return { progress: (e) => { w.events.push(e) }, ended: (outcome) => { w.outcome = outcome } }
    }
  }

  before(async () => {
    tmp = await tmpDir()
    for (const name of ['seeder', 'fetcher']) {
      const host = await startHost(path.join(tmp.dir, name))
      hosts.push(host)
      const store = createStore(path.join(tmp.dir, name, 'store'), { fsync: false })
      await store.open()
      stores.push(store)
      const exchange = createExchange({
        host,
        blocks: store.blocks,
        ...(name === 'fetcher' ? { observers: [observer], metrics: { blockStored: (protocol, bytes) => { stored.push({ protocol, bytes }) } } } : {})
      }, { bitswap: false })
      await exchange.start()
      exchanges.push(exchange)
    }
  })
  after(async () => {
    for (const e of exchanges) await e.stop()
    for (const h of hosts) await h.stop()
    for (const s of stores) await s.close()
    await tmp.cleanup()
  })

  it('hears the progress its caller hears, the end, and each block stored once', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 5)
    const { cid } = await importContent((async function * () {
      yield { path: 'f.bin', kind: 'file' as const, content: (async function * () { yield bytes })() }
    })(), stores[0].blocks)
    const told: FetchProgressEvent[] = []
    const from = [hosts[0].getMultiaddrs()[0].toString()]
    const result = await exchanges[1].fetch(cid, { from, onProgress: (e) => { told.push(e) } }).result
    assert.equal(watched.length, 1)
    assert.equal(watched[0].root, cid.toString())
    assert.equal(watched[0].outcome, 'done')
    assert.ok(told.length > 0)
    assert.deepEqual(watched[0].events, told)
    assert.deepEqual([...new Set(stored.map(s => s.protocol))], ['shoal'])
    assert.equal(stored.length, result.fetchedBlocks)
    assert.equal(stored.reduce((n, s) => n + s.bytes, 0), result.fetchedBytes)
  })

  it('hears a fetch its caller stopped end as aborted, and one that found no peer as failed', async () => {
    const absent = CID.createV1(raw.code, await sha256.digest(randomBytes(32)))
    const controller = new AbortController()
    const aborted = exchanges[1].fetch(absent, { signal: controller.signal })
    controller.abort()
    await assert.rejects(aborted.result)
    const failed = exchanges[1].fetch(CID.createV1(raw.code, await sha256.digest(randomBytes(32))), { signal: AbortSignal.timeout(20_000) })
    await assert.rejects(failed.result, (err: Error) => err.name !== 'AbortError')
    assert.deepEqual(watched.slice(-2).map(w => w.outcome), ['aborted', 'failed'])
  })
})
