/**
 * A trustless HTTP gateway as a source: one daemon fetches over plain HTTP from another's
 * gateway (`--from http://host:port`), block by block, each verified; a gateway that serves
 * wrong bytes is dropped like any liar.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import http from 'node:http'
import path from 'node:path'
import { lastJson, runCli, spawnLoopbackDaemon } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import type { SpawnedDaemon } from '../helpers/cli.js'
import type { AddressInfo } from 'node:net'

describe('e2e: fetch from a trustless HTTP gateway', function () {
  this.timeout(120_000)
  let tmp: Awaited<ReturnType<typeof tmpDir>>
  let origin: SpawnedDaemon
  let fetcher: SpawnedDaemon

  before(async () => {
    tmp = await tmpDir()
    ;[origin, fetcher] = await Promise.all([spawnLoopbackDaemon(path.join(tmp.dir, 'origin')), spawnLoopbackDaemon(path.join(tmp.dir, 'fetcher'))])
  })
  after(async () => {
    await Promise.all([origin?.stop(), fetcher?.stop()])
    await tmp?.cleanup()
  })

  async function publish (size: number): Promise<{ cid: string, bytes: Buffer }> {
    const bytes = randomBytes(size)
    const file = path.join(tmp.dir, `${size}-${Math.random()}.bin`)
    await fs.writeFile(file, bytes)
    const r = await runCli(['--repo', origin.repo, '--json', 'publish', file])
    assert.equal(r.code, 0, r.stderr)
    return { cid: lastJson(r.stdout).cid, bytes }
  }

  async function read (cid: string): Promise<Buffer> {
    const out = path.join(tmp.dir, `got-${cid}`)
    const r = await runCli(['--repo', fetcher.repo, 'get', cid, '-o', out])
    assert.equal(r.code, 0, r.stderr)
    return fs.readFile(out)
  }

  it('fetches a multi-block file over HTTP only, every block verified', async () => {
    const { cid, bytes } = await publish(3 * 1024 * 1024 + 7)
    const r = await runCli(['--repo', fetcher.repo, '--json', 'fetch', cid, '--from', `http://${origin.gateway as string}`])
    assert.equal(r.code, 0, r.stderr)
    const result = lastJson(r.stdout)
    assert.ok(result.fetchedBytes >= bytes.length)
    assert.deepEqual(result.fetchedBytesBy, { shoal: 0, bitswap: 0, http: result.fetchedBytes })
    assert.ok((await read(cid)).equals(bytes))
  })

  it('a gateway that serves wrong bytes is dropped after its first; the fetch completes from an honest one', async () => {
    let asked = 0
    const liar = http.createServer((req, res) => {
      asked++
      res.writeHead(200, { 'content-type': 'application/vnd.ipld.raw' })
      res.end(req.method === 'HEAD' ? undefined : randomBytes(1024))
    })
    await new Promise<void>(resolve => liar.listen(0, '127.0.0.1', resolve))
    try {
      const liarUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`
      const { cid, bytes } = await publish(4 * 1024 * 1024)
      const r = await runCli(['--repo', fetcher.repo, '--json', 'fetch', cid, '--from', liarUrl, '--from', `http://${origin.gateway as string}`])
      assert.equal(r.code, 0, r.stderr)
      const bad = r.stderr.trim().split('\n').map(l => JSON.parse(l)).filter(e => e.type === 'fetch:bad-block')
      assert.equal(bad.length, 1, `${JSON.stringify(bad)}; the liar was asked ${asked} times`)
      assert.equal(bad[0].peerId, liarUrl)
      const joined = r.stderr.trim().split('\n').map(l => JSON.parse(l)).filter(e => e.type === 'fetch:peer' && e.joined === true)
      assert.deepEqual(joined.map(e => e.protocol), ['http', 'http'])
      assert.ok((await read(cid)).equals(bytes))
    } finally {
      liar.closeAllConnections()
      await new Promise(resolve => liar.close(resolve))
    }
  })

  it('a --from that is neither a multiaddr nor an http(s) URL is refused by name', async () => {
    const r = await runCli(['--repo', fetcher.repo, 'fetch', 'bafkreigk3dpferybcswyzpzhhkg2bkd2bfxyasojafa2xbeourv7xevwmi', '--from', 'ftp://example'])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /^shoal: invalid --from "ftp:\/\/example": expected a multiaddr ending in \/p2p\/<peer id>, or an http\(s\) URL/)
  })
})
