/**
 * `/shoal/perf/1.0.0`, the raw-throughput baseline of bench/exchange: the client gets exactly
 * the bytes it asked for, a request over the limit is refused, and an abort ends a transfer.
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { MiB } from '../../src/constants.js'
import { handlePerf, MAX_PERF_BYTES, runPerf } from '../../src/exchange/perf.js'
import { startHost } from '../helpers/host.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Host } from '../../src/host/index.js'


describe('exchange: the perf protocol', function () {
  this.timeout(60_000)
  let tmp: Awaited<ReturnType<typeof tmpDir>>
  let server: Host
  let client: Host

  before(async () => {
    tmp = await tmpDir()
    server = await startHost(path.join(tmp.dir, 'server'))
    client = await startHost(path.join(tmp.dir, 'client'))
    await handlePerf(server)
  })

  after(async () => {
    await client?.stop()
    await server?.stop()
    await tmp?.cleanup()
  })

  it('delivers exactly the bytes asked for, several times on one connection', async () => {
    for (const bytes of [1, 300_001, 64 * MiB]) {
      const r = await runPerf(client, server.getMultiaddrs()[0], bytes)
      assert.equal(r.bytes, bytes)
      assert.ok(r.seconds > 0)
    }
  })

  it('a request over the limit is refused with an error, and the server goes on serving', async () => {
    await assert.rejects(runPerf(client, server.getMultiaddrs()[0], MAX_PERF_BYTES + 1))
    assert.equal((await runPerf(client, server.getMultiaddrs()[0], MiB)).bytes, MiB)
  })

  it('an abort ends a transfer part-way', async () => {
    const controller = new AbortController()
    const run = runPerf(client, server.getMultiaddrs()[0], 8 * 1024 * MiB, controller.signal)
    setTimeout(() => { controller.abort(new Error('enough')) }, 200)
    const started = Date.now()
    await assert.rejects(run)
    assert.ok(Date.now() - started < 10_000, 'the abort ended the transfer')
    assert.equal((await runPerf(client, server.getMultiaddrs()[0], MiB)).bytes, MiB)
  })
})
