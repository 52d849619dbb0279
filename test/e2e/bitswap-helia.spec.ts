/**
 * An IPFS node fetches what a shoal daemon publishes, over bitswap: Helia (its own libp2p, its own
 * bitswap, its own verification) dials a `shoal start` process on loopback and reads files and a
 * directory of both profiles, byte for byte.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { unixfs } from '@helia/unixfs'
import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { lpStream } from '@libp2p/utils'
import { Message } from '../../src/exchange/bitswap/message.js'
import { BITSWAP_120 } from '../../src/exchange/bitswap/server.js'
import { lengthPrefixed } from '../../src/exchange/send.js'
import { lastJson, runCli, spawnLoopbackDaemon } from '../helpers/cli.js'
import { startHelia } from '../helpers/helia.js'
import { startHost } from '../helpers/host.js'
import { tmpDir } from '../helpers/tmp.js'
import type { SpawnedDaemon } from '../helpers/cli.js'
import type { Stream } from '@libp2p/interface'

async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const c of source) chunks.push(c)
  return Buffer.concat(chunks)
}

describe('e2e: an IPFS node (Helia) fetches from a shoal daemon over bitswap', function () {
  this.timeout(120_000)
  let tmp: Awaited<ReturnType<typeof tmpDir>>
  let daemon: SpawnedDaemon
  let helia: Awaited<ReturnType<typeof startHelia>>

  let served = 0
  async function statsOf (): Promise<{ blocksSent: number, bytesSent: number }> {
    const stats = await runCli(['--repo', daemon.repo, '--json', 'stats'])
    assert.equal(stats.code, 0, stats.stderr)
    return lastJson(stats.stdout).exchange.bitswap
  }

  before(async () => {
    tmp = await tmpDir()
    daemon = await spawnLoopbackDaemon(path.join(tmp.dir, 'repo'))
    helia = await startHelia()
    await helia.libp2p.dial(multiaddr(daemon.addresses.find(a => a.includes('/tcp/')) as string))
  })
  after(async () => {
    await helia?.stop()
    await daemon?.stop()
    await tmp?.cleanup()
  })

  for (const profile of ['unixfs-v1-2025', 'unixfs-v0-2015']) {
    const mib = profile === 'unixfs-v1-2025' ? 64 : 3
    it(`a ${mib} MiB file and a directory tree published with ${profile}`, async () => {
      const dir = path.join(tmp.dir, profile)
      await fs.mkdir(path.join(dir, 'tree', 'sub'), { recursive: true })
      const big = randomBytes(mib * 1024 * 1024)
      await fs.writeFile(path.join(dir, 'big.bin'), big)
      await fs.writeFile(path.join(dir, 'tree', 'a.txt'), 'a small file')
      await fs.writeFile(path.join(dir, 'tree', 'sub', 'b.bin'), big.subarray(0, 300_000))
      served = (await statsOf()).bytesSent

      const file = await runCli(['--repo', daemon.repo, '--json', 'publish', '--profile', profile, path.join(dir, 'big.bin')])
      assert.equal(file.code, 0, file.stderr)
      const fileCid = CID.parse(lastJson(file.stdout).cid)
      const tree = await runCli(['--repo', daemon.repo, '--json', 'publish', '--profile', profile, path.join(dir, 'tree')])
      assert.equal(tree.code, 0, tree.stderr)
      const treeCid = CID.parse(lastJson(tree.stdout).cid)

      const fs2 = unixfs(helia)
      const got = await collect(fs2.cat(fileCid, { signal: AbortSignal.timeout(60_000) }))
      assert.equal(got.length, big.length)
      assert.ok(got.equals(big), 'the file Helia read has other bytes')
      // by bitswap only: the daemon served it all
      assert.ok((await statsOf()).bytesSent - served >= big.length)

      const names: string[] = []
      for await (const entry of fs2.ls(treeCid, { signal: AbortSignal.timeout(30_000) })) names.push(entry.name)
      assert.deepEqual(names.sort(), ['a.txt', 'sub'])
      const nested = await collect(fs2.cat(treeCid, { path: 'sub/b.bin', signal: AbortSignal.timeout(30_000) }))
      assert.ok(nested.equals(big.subarray(0, 300_000)))
    })
  }

  it('the daemon fetches a file only Helia holds, over bitswap, every block verified', async () => {
    const bytes = randomBytes(2 * 1024 * 1024 + 12345)
    const cid = await unixfs(helia).addBytes(bytes)
    const from = helia.libp2p.getMultiaddrs()[0].toString()
    const fetched = await runCli(['--repo', daemon.repo, '--json', 'fetch', cid.toString(), '--from', from])
    assert.equal(fetched.code, 0, fetched.stderr)
    const result = lastJson(fetched.stdout)
    assert.ok(result.fetchedBytes >= bytes.length, `fetched ${result.fetchedBytes}`)
    assert.deepEqual(result.fetchedBytesBy, { shoal: 0, bitswap: result.fetchedBytes, http: 0 })
    const out = path.join(tmp.dir, 'from-helia.bin')
    const got = await runCli(['--repo', daemon.repo, 'get', cid.toString(), '-o', out])
    assert.equal(got.code, 0, got.stderr)
    assert.ok((await fs.readFile(out)).equals(bytes), 'the file shoal fetched has other bytes')
    const pins = await runCli(['--repo', daemon.repo, '--json', 'pin', 'ls'])
    assert.ok(pins.stdout.includes(cid.toString()), 'the fetched file is pinned')
  })

  it('one fetch draws from a shoal seeder and a Helia seeder at once, and both send blocks', async () => {
    const file = path.join(tmp.dir, 'both.bin')
    const bytes = randomBytes(24 * 1024 * 1024)
    await fs.writeFile(file, bytes)
    const published = await runCli(['--repo', daemon.repo, '--json', 'publish', file])
    assert.equal(published.code, 0, published.stderr)
    const cid = CID.parse(lastJson(published.stdout).cid)
    // Helia takes a copy from the daemon, so both hold the same DAG
    await collect(unixfs(helia).cat(cid, { signal: AbortSignal.timeout(60_000) }))
    // the shoal seeder serves at 4 MB/s: unlimited, it could send every block on loopback before
    // Helia's first answer arrives, and the fetch would not need Helia at all
    const slowConfig = JSON.parse(await fs.readFile(new URL('../../../configs/default.json', import.meta.url), 'utf8'))
    slowConfig.exchange.uploadRate = 4_000_000
    const slowFile = path.join(tmp.dir, 'slow-seeder.json')
    await fs.writeFile(slowFile, JSON.stringify(slowConfig))
    const seeder = await spawnLoopbackDaemon(path.join(tmp.dir, 'both-seeder'), ['--swarm', slowFile])
    const fetcher = await spawnLoopbackDaemon(path.join(tmp.dir, 'both-fetcher'))
    try {
      const again = await runCli(['--repo', seeder.repo, '--json', 'publish', file])
      assert.equal(lastJson(again.stdout).cid, cid.toString())
      const r = await runCli(['--repo', fetcher.repo, '--json', 'fetch', cid.toString(), '--from', seeder.addresses[0], '--from', helia.libp2p.getMultiaddrs()[0].toString()])
      assert.equal(r.code, 0, r.stderr)
      const by = lastJson(r.stdout).fetchedBytesBy
      assert.ok(by.shoal > 0 && by.bitswap > 0, JSON.stringify(by))
      assert.equal(by.shoal + by.bitswap, lastJson(r.stdout).fetchedBytes)
      const out = path.join(tmp.dir, 'both-out.bin')
      assert.equal((await runCli(['--repo', fetcher.repo, 'get', cid.toString(), '-o', out])).code, 0)
      assert.ok((await fs.readFile(out)).equals(bytes))
    } finally {
      await Promise.all([fetcher.stop(), seeder.stop()])
    }
  })

  it('without --from: a connected IPFS node that has the root is asked over bitswap', async () => {
    const bytes = randomBytes(600_000)
    const cid = await unixfs(helia).addBytes(bytes)
    const fetched = await runCli(['--repo', daemon.repo, '--json', 'fetch', cid.toString()])
    assert.equal(fetched.code, 0, fetched.stderr)
    const result = lastJson(fetched.stdout)
    assert.equal(result.fetchedBytesBy.bitswap, result.fetchedBytes)
    assert.ok(result.fetchedBytes >= bytes.length)
  })

  it('a bitswap peer that answers with wrong blocks is dropped after its first; the fetch completes from Helia', async () => {
    const liar = await startHost(path.join(tmp.dir, 'liar'))
    let wants = 0
    try {
      // the test double: says HAVE to everything and answers every want-block with random bytes
      await liar.handle(BITSWAP_120, (stream, connection) => {
        let out: Stream | undefined
        void (async () => {
          const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 })
          try {
            while (true) {
              const message = Message.decode(await lp.read())
              const answer: Message = { blocks: [], payload: [], blockPresences: [], pendingBytes: 0 }
              for (const e of message.wantlist?.entries ?? []) {
                if (e.cancel) continue
                if (e.wantType === Message.Wantlist.WantType.Have) answer.blockPresences.push({ cid: e.block, type: Message.BlockPresenceType.Have })
                else {
                  wants++
                  answer.payload.push({ prefix: Uint8Array.from([1, 0x55, 0x12, 32]), data: randomBytes(256 * 1024) })
                }
              }
              out ??= await connection.newStream(BITSWAP_120)
              out.send(lengthPrefixed(Message.encode(answer)))
            }
          } catch {}
        })()
      })
      const bytes = randomBytes(8 * 1024 * 1024)
      const cid = await unixfs(helia).addBytes(bytes)
      const liarAddr = liar.getMultiaddrs()[0].toString()
      const r = await runCli(['--repo', daemon.repo, '--json', 'fetch', cid.toString(), '--from', liarAddr, '--from', helia.libp2p.getMultiaddrs()[0].toString()])
      assert.equal(r.code, 0, r.stderr)
      const bad = r.stderr.trim().split('\n').map(l => JSON.parse(l)).filter(e => e.type === 'fetch:bad-block')
      assert.equal(bad.length, 1, `${JSON.stringify(bad)}; the liar was asked for ${wants} blocks`)
      assert.equal(bad[0].peerId, liar.peerId.toString())
      assert.ok(wants >= 1)
      const out = path.join(tmp.dir, 'despite-liar.bin')
      assert.equal((await runCli(['--repo', daemon.repo, 'get', cid.toString(), '-o', out])).code, 0)
      assert.ok((await fs.readFile(out)).equals(bytes))
    } finally {
      await liar.stop()
    }
  })

  it('a fetch of a CID Helia does not hold fails by name and stores nothing', async () => {
    const absent = CID.createV1(raw.code, await sha256.digest(randomBytes(64)))
    const r = await runCli(['--repo', daemon.repo, '--json', 'fetch', absent.toString(), '--from', helia.libp2p.getMultiaddrs()[0].toString()], { timeoutMs: 90_000 })
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /^shoal: no peer in the session has block /m)
    const ls = await runCli(['--repo', daemon.repo, '--json', 'pin', 'ls'])
    assert.ok(!ls.stdout.includes(absent.toString()))
  })

  it('the daemon counts what it served over bitswap', async () => {
    const stats = await runCli(['--repo', daemon.repo, '--json', 'stats'])
    assert.equal(stats.code, 0, stats.stderr)
    const bitswap = lastJson(stats.stdout).exchange?.bitswap
    assert.ok(bitswap != null, `stats have no bitswap figures: ${stats.stdout}`)
    assert.ok(bitswap.blocksSent >= 2 * 12, `blocks sent ${bitswap.blocksSent}`)
    assert.ok(bitswap.bytesSent >= (64 + 3) * 1024 * 1024, `bytes sent ${bitswap.bytesSent}`)
  })
})
