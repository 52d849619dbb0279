import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import * as varint from 'uint8-varint'
import { EXCHANGE_PROTOCOL, INITIAL_WINDOW } from '../../src/constants.js'
import { No, Request, Response } from '../../src/exchange/message.js'
import { lastJson, runCli } from '../helpers/cli.js'
import { publishRandom, startPeer } from '../helpers/swarm.js'
import { startHost } from '../helpers/host.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Host } from '../../src/host/index.js'
import type { SpawnedDaemon } from '../helpers/cli.js'
import type { Stream } from '@libp2p/interface'

const MiB = 1024 * 1024


/** Everything the other side sends until it closes or resets the stream (bounded by a timeout) */
async function drain (stream: Stream, timeoutMs = 10_000): Promise<{ bytes: number, error?: string }> {
  let bytes = 0
  const timer = setTimeout(() => { stream.abort(new Error('test timeout')) }, timeoutMs)
  try {
    for await (const chunk of stream) bytes += chunk.byteLength
    return { bytes }
  } catch (err: any) {
    return { bytes, error: err.name }
  } finally {
    clearTimeout(timer)
  }
}

describe('exchange: hostile peers', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  const daemons: SpawnedDaemon[] = []
  const nodes: Host[] = []

  before(async () => { tmp = await tmpDir() })
  after(async () => {
    await Promise.all(daemons.map(async d => d.stop()))
    await Promise.all(nodes.map(async n => n.stop()))
    await tmp?.cleanup()
  })

  it('a seeder that serves corrupted blocks is dropped after its first bad block; nothing corrupt is stored', async () => {
    const honest = await startPeer(path.join(tmp.dir, 'honest'))
    const fetcher = await startPeer(path.join(tmp.dir, 'fetcher'))
    daemons.push(honest, fetcher)
    const liar = await startHost(path.join(tmp.dir, 'liar-ds'))
    nodes.push(liar)
    let wants = 0
    // the test double: claims to have everything, answers every want with random bytes
    await liar.handle(EXCHANGE_PROTOCOL, (stream) => {
      void (async () => {
        const lp = lpStream(stream)
        try {
          while (true) {
            const req = Request.decode(await lp.read())
            if (req.have != null) await lp.write(Response.encode({ id: req.id, have: { have: req.have.cids.map(() => true) } }))
            if (req.want != null) {
              wants++
              await lp.write(Response.encode({ id: req.id, block: { data: randomBytes(MiB) } }))
            }
          }
        } catch {}
      })()
    })
    const liarAddr = liar.getMultiaddrs()[0].toString()
    const { cid, bytes } = await publishRandom(honest, tmp.dir, 8 * MiB)
    // connected beforehand, so the liar is in the session from the start: dialled during the
    // fetch, it could join after the honest peer had served all nine blocks
    assert.equal((await runCli(['--repo', fetcher.repo, 'connect', liarAddr])).code, 0)
    const r = await runCli(['--repo', fetcher.repo, '--json', 'fetch', cid, '--from', liarAddr, '--from', honest.addresses[0]])
    assert.equal(r.code, 0, r.stderr)
    const events = r.stderr.trim().split('\n').map(l => JSON.parse(l))
    const bad = events.filter(e => e.type === 'fetch:bad-block')
    assert.equal(bad.length, 1, JSON.stringify(bad))
    assert.equal(bad[0].peerId, liar.peerId.toString())
    assert.ok(wants >= 1 && wants <= INITIAL_WINDOW, `the liar was asked ${wants} times`)
    assert.ok(events.some(e => e.type === 'fetch:peer' && e.joined === false && e.peerId === liar.peerId.toString()))

    const out = path.join(tmp.dir, 'liar-out.bin')
    assert.equal((await runCli(['--repo', fetcher.repo, 'get', cid, '-o', out])).code, 0)
    assert.ok((await fs.readFile(out)).equals(bytes))
    const verify = lastJson((await runCli(['--repo', fetcher.repo, '--json', 'verify'])).stdout)
    assert.deepEqual(verify.corrupt, [])
    assert.ok(verify.checked >= 9)

    // and it stays out: the next fetch does not ask it
    const before = wants
    const second = await publishRandom(honest, tmp.dir, 2 * MiB)
    const again = await runCli(['--repo', fetcher.repo, '--json', 'fetch', second.cid, '--from', liarAddr, '--from', honest.addresses[0]])
    assert.equal(again.code, 0, again.stderr)
    assert.equal(wants, before)
  })

  it('bad protocol input resets that stream and the peer goes on serving others', async () => {
    const server = await startPeer(path.join(tmp.dir, 'server'))
    const other = await startPeer(path.join(tmp.dir, 'other'))
    daemons.push(server, other)
    const client = await startHost(path.join(tmp.dir, 'client-ds'))
    nodes.push(client)
    const target = multiaddr(server.addresses[0])
    const { cid } = await publishRandom(server, tmp.dir, 2 * MiB)

    // a length prefix claiming 4 GiB
    const huge = await client.dialProtocol(target, EXCHANGE_PROTOCOL)
    huge.send(varint.encode(4 * 1024 * 1024 * 1024))
    huge.send(new Uint8Array(100))
    const r1 = await drain(huge)
    assert.equal(r1.bytes, 0)
    assert.ok(r1.error != null, 'the stream was reset')

    // a frame that is not a Request
    const garbage = await client.dialProtocol(target, EXCHANGE_PROTOCOL)
    garbage.send(varint.encode(3))
    garbage.send(Uint8Array.from([0xff, 0xff, 0xff]))
    const r2 = await drain(garbage)
    assert.equal(r2.bytes, 0)
    assert.ok(r2.error != null, 'the stream was reset')

    // a truncated frame: the length says 100, 10 bytes come, then the writer closes
    const truncated = await client.dialProtocol(target, EXCHANGE_PROTOCOL)
    truncated.send(varint.encode(100))
    truncated.send(new Uint8Array(10))
    await truncated.close()
    const r3 = await drain(truncated)
    assert.equal(r3.bytes, 0, 'nothing is answered to a truncated frame')

    // a request with no operation is answered BAD_REQUEST, and the stream stays usable
    const empty = await client.dialProtocol(target, EXCHANGE_PROTOCOL)
    const lp = lpStream(empty)
    await lp.write(Request.encode({ id: 7 }))
    const res = Response.decode(await lp.read())
    assert.equal(res.id, 7)
    assert.equal(res.no?.reason, No.Reason.BAD_REQUEST)
    await lp.write(Request.encode({ id: 8, want: { cid: Uint8Array.from([1, 2, 3]) } }))
    assert.equal(Response.decode(await lp.read()).no?.reason, No.Reason.BAD_REQUEST)
    await empty.close()

    // the server still serves everyone else
    const f = await runCli(['--repo', other.repo, '--json', 'fetch', cid, '--from', server.addresses[0]])
    assert.equal(f.code, 0, f.stderr)
    assert.equal(lastJson(f.stdout).fetchedBlocks, 3)
    const s = lastJson((await runCli(['--repo', server.repo, '--json', 'stats'])).stdout)
    assert.ok(s.exchange.server.resets >= 2, `resets: ${s.exchange.server.resets}`)
  })
})
