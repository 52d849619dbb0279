/**
 * `/shoal/perf/1.0.0`, the raw-throughput baseline of bench/exchange: the client gets exactly
 * the bytes it asked for, a request over the limit is refused, an abort ends a transfer, and with
 * `hash` the client hashes every piece of what arrives.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { MiB } from '../../src/constants.js'
import { handlePerf, MAX_PERF_BYTES, PERF_HASH_PIECE, runPerf } from '../../src/exchange/perf.js'
import { lastJson, runCli, spawnLoopbackDaemon } from '../helpers/cli.js'
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

  it('with hash, hashes what arrives piece by piece, the last piece short', async () => {
    const zeros = (n: number): string => createHash('sha256').update(new Uint8Array(n)).digest('hex')
    for (const bytes of [1, PERF_HASH_PIECE, 3 * PERF_HASH_PIECE + 12_345]) {
      const r = await runPerf(client, server.getMultiaddrs()[0], bytes, { hash: true })
      assert.equal(r.bytes, bytes)
      assert.equal(r.hashed?.pieces, Math.ceil(bytes / PERF_HASH_PIECE))
      // the server sends zeros: the last piece's digest shows where the pieces were cut
      assert.equal(r.hashed?.lastDigest, zeros(bytes % PERF_HASH_PIECE === 0 ? PERF_HASH_PIECE : bytes % PERF_HASH_PIECE))
    }
    assert.equal((await runPerf(client, server.getMultiaddrs()[0], MiB)).hashed, undefined)
  })

  it('a request over the limit is refused with an error, and the server goes on serving', async () => {
    await assert.rejects(runPerf(client, server.getMultiaddrs()[0], MAX_PERF_BYTES + 1))
    assert.equal((await runPerf(client, server.getMultiaddrs()[0], MiB)).bytes, MiB)
  })

  it('an abort ends a transfer part-way', async () => {
    const controller = new AbortController()
    const run = runPerf(client, server.getMultiaddrs()[0], 8 * 1024 * MiB, { signal: controller.signal })
    setTimeout(() => { controller.abort(new Error('enough')) }, 200)
    const started = Date.now()
    await assert.rejects(run)
    assert.ok(Date.now() - started < 10_000, 'the abort ended the transfer')
    assert.equal((await runPerf(client, server.getMultiaddrs()[0], MiB)).bytes, MiB)
  })
})

describe('cli: shoal perf between daemons', function () {
  this.timeout(120_000)

  it('measures a download, and with --hash hashes every MiB of it', async () => {
    const tmp = await tmpDir()
    const config = path.join(tmp.dir, 'perf.json')
    const base = JSON.parse(await fs.readFile(new URL('../../../configs/local.json', import.meta.url), 'utf8'))
    await fs.writeFile(config, JSON.stringify({ ...base, exchange: { ...base.exchange, perf: true } }))
    const repoA = path.join(tmp.dir, 'a')
    assert.equal((await runCli(['--repo', repoA, 'init', '--config', config])).code, 0)
    const a = await spawnLoopbackDaemon(repoA)
    const b = await spawnLoopbackDaemon(path.join(tmp.dir, 'b'))
    try {
      const target = `${a.addresses.find(x => x.startsWith('/ip4/127.0.0.1/tcp/') && !x.includes('/ws'))}`
      const plain = await runCli(['--repo', b.repo, '--json', 'perf', target, '--bytes', String(2 * MiB)])
      assert.equal(plain.code, 0, plain.stderr)
      assert.equal(lastJson(plain.stdout).bytes, 2 * MiB)
      assert.equal(lastJson(plain.stdout).hashed, undefined)
      const hashed = await runCli(['--repo', b.repo, '--json', 'perf', target, '--bytes', String(5 * MiB + 1), '--hash'])
      assert.equal(hashed.code, 0, hashed.stderr)
      assert.equal(lastJson(hashed.stdout).bytes, 5 * MiB + 1)
      assert.equal(lastJson(hashed.stdout).hashed.pieces, 6)
      // B has perf off: asking it is refused in one line, and A goes on answering
      const refused = await runCli(['--repo', a.repo, 'perf', `${b.addresses.find(x => x.startsWith('/ip4/127.0.0.1/tcp/') && !x.includes('/ws'))}`, '--bytes', '1'])
      assert.equal(refused.code, 1)
      assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr)
    } finally {
      await b.stop()
      await a.stop()
      await tmp.cleanup()
    }
  })
})
