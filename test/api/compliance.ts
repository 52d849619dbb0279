/**
 * One suite for every `ShoalApi`: the in-process peer and the HTTP client of a daemon must
 * answer alike, errors included (same `name`).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { ExportEntry, ImportEntry, ShoalApi } from '../../src/api/index.js'

export interface ComplianceSetup {
  api: ShoalApi
  /** Another running peer to connect to, and its API */
  other: { peerId: string, address: string, api: ShoalApi }
  teardown(): Promise<void>
}

async function * chunks (bytes: Uint8Array, size = 100_000): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += size) yield bytes.subarray(i, i + size)
}

async function * entries (list: Array<{ path: string, bytes?: Uint8Array }>): AsyncGenerator<ImportEntry> {
  for (const e of list) {
    yield e.bytes == null ? { path: e.path, kind: 'directory' } : { path: e.path, kind: 'file', content: chunks(e.bytes) }
  }
}

async function collect (source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Uint8Array[] = []
  for await (const c of source) out.push(c)
  return Buffer.concat(out)
}

async function tree (source: AsyncIterable<ExportEntry>): Promise<Map<string, string | Buffer>> {
  const out = new Map<string, string | Buffer>()
  for await (const e of source) {
    out.set(e.path, e.kind === 'file' && e.content != null ? await collect(e.content) : e.kind)
  }
  return out
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

export function complianceSuite (name: string, setup: () => Promise<ComplianceSetup>): void {
  describe(`ShoalApi compliance: ${name}`, function () {
    this.timeout(60_000)
    let ctx: ComplianceSetup
    let api: ShoalApi
    const big = randomBytes(3 * 1024 * 1024 + 7)

    before(async () => {
      ctx = await setup()
      api = ctx.api
    })

    after(async () => {
      await ctx?.teardown()
    })

    it('id names the peer and its dialable addresses', async () => {
      const id = await api.id()
      assert.match(id.peerId, /^12D3KooW/)
      assert.equal(id.online, true)
      assert.ok(id.addresses.length > 0)
      for (const a of id.addresses) assert.ok(a.endsWith(`/p2p/${id.peerId}`), a)
    })

    it('publishes a file with the CID Kubo gives, and pins it', async () => {
      const r = await api.publish(entries([{ path: 'hello.txt', bytes: text('hello\n') }]))
      assert.deepEqual({ cid: r.cid, size: r.size, name: r.name }, { cid: 'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am', size: 6, name: 'hello.txt' })
      assert.equal(typeof r.announced, 'number', 'an online peer announces what it publishes')
      const v0 = await api.publish(entries([{ path: 'hello.txt', bytes: text('hello\n') }]), { profile: 'unixfs-v0-2015' })
      assert.equal(v0.cid, 'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN')
      const pins = await api.pinLs()
      assert.ok(pins.some(p => p.cid === r.cid && p.name === 'hello.txt' && p.size === 6))
      assert.ok(pins.some(p => p.cid === v0.cid))
    })

    it('reports publish progress up to the full size', async () => {
      const seen: number[] = []
      const r = await api.publish(entries([{ path: 'big.bin', bytes: big }]), { onProgress: (e) => seen.push(e.bytes) })
      assert.equal(r.size, big.byteLength)
      assert.ok(seen.length > 1)
      assert.equal(seen[seen.length - 1], big.byteLength)
    })

    it('cats a multi-block file whole and by byte range', async () => {
      const r = await api.publish(entries([{ path: 'big.bin', bytes: big }]))
      assert.ok((await collect(api.cat(r.cid))).equals(big))
      const offset = 1024 * 1024 - 10 // across a block boundary
      const part = await collect(api.cat(r.cid, { offset, length: 5000 }))
      assert.ok(part.equals(big.subarray(offset, offset + 5000)))
      assert.equal((await collect(api.cat(r.cid, { offset: big.byteLength + 5 }))).byteLength, 0)
    })

    it('publishes a directory tree and gets it back entry for entry', async () => {
      const files = [
        { path: 'site' },
        { path: 'site/index.html', bytes: text('<h1>hi</h1>') },
        { path: 'site/empty.txt', bytes: new Uint8Array(0) },
        { path: 'site/assets' },
        { path: 'site/assets/blob.bin', bytes: big.subarray(0, 1_500_000) }
      ]
      const r = await api.publish(entries(files))
      assert.equal(r.name, 'site')
      assert.equal(r.size, 11 + 1_500_000)
      const got = await tree(api.get(r.cid))
      assert.equal(got.get(''), 'directory')
      assert.equal(got.get('assets'), 'directory')
      assert.equal(String(got.get('index.html')), '<h1>hi</h1>')
      assert.equal((got.get('empty.txt') as Buffer).byteLength, 0)
      assert.ok((got.get('assets/blob.bin') as Buffer).equals(big.subarray(0, 1_500_000)))
      assert.equal(got.size, 5)

      const listing = await api.ls(r.cid)
      assert.deepEqual(listing.map(e => [e.name, e.kind]).sort(), [['assets', 'directory'], ['empty.txt', 'file'], ['index.html', 'file']])
      assert.equal(String(await collect(api.cat(`${r.cid}/index.html`))), '<h1>hi</h1>')
      assert.equal(String(await collect(api.cat(`/ipfs/${r.cid}/index.html`))), '<h1>hi</h1>')
      await assert.rejects(collect(api.cat(r.cid)), { name: 'InvalidPathError' })
      await assert.rejects(collect(api.cat(`${r.cid}/missing.txt`)), { name: 'PathNotFoundError' })
      await assert.rejects(collect(api.cat(`${r.cid}/../x`)), { name: 'InvalidPathError' })
    })

    it('refuses bad input with named errors', async () => {
      await assert.rejects(collect(api.cat('not-a-cid')), { name: 'InvalidCIDError' })
      await assert.rejects(collect(api.cat('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')), { name: 'BlockNotFoundError' })
      await assert.rejects(api.publish(entries([{ path: 'x', bytes: text('x') }]), { profile: 'nope' }), { name: 'InvalidProfileError' })
      await assert.rejects(api.publish(entries([{ path: 'a', bytes: text('a') }, { path: 'b', bytes: text('b') }])), { name: 'InvalidArgumentError' })
      await assert.rejects(api.publish(entries([{ path: 'd' }, { path: 'd/../x', bytes: text('x') }])), { name: 'InvalidArgumentError' })
      await assert.rejects(api.publish(entries([{ path: '/abs', bytes: text('x') }])), { name: 'InvalidArgumentError' })
      await assert.rejects(api.pinRm('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'), { name: 'NotPinnedError' })
      await assert.rejects(api.pinAdd('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'), { name: 'BlockNotFoundError' })
      await assert.rejects(api.connect('/ip4/127.0.0.1/tcp/1'), { name: 'InvalidArgumentError' })
    })

    it('refuses arguments of the wrong kind alike, before doing anything', async () => {
      const r = await api.publish(entries([{ path: 'kinds.txt', bytes: text('kinds\n') }]))
      const wrong = (v: unknown): any => v
      await assert.rejects(collect(api.cat(r.cid, { offset: -1 })), { name: 'InvalidArgumentError', message: /"offset"/ })
      await assert.rejects(collect(api.cat(r.cid, { length: wrong('10') })), { name: 'InvalidArgumentError', message: /"length"/ })
      await assert.rejects(collect(api.cat('')), { name: 'InvalidArgumentError', message: /"path"/ })
      await assert.rejects(collect(api.exportCar(r.cid, { scope: wrong('dag') })), { name: 'InvalidArgumentError', message: /"scope"/ })
      await assert.rejects(api.pinAdd(r.cid, { name: wrong(7) }), { name: 'InvalidArgumentError', message: /"name"/ })
      await assert.rejects(api.find(r.cid, { limit: 1.5 }), { name: 'InvalidArgumentError', message: /"limit"/ })
      await assert.rejects(api.publish(entries([{ path: 't', bytes: text('t') }]), { tags: ['Not A Tag'] }), { name: 'InvalidArgumentError', message: /"tags"/ })
      await assert.rejects(api.publish(entries([{ path: 't', bytes: text('t') }]), { replicas: 65 }), { name: 'InvalidArgumentError', message: /"replicas"/ })
      // a drop that is not true or false must not be taken for one
      await assert.rejects(api.verify({ drop: wrong('yes') }), { name: 'InvalidArgumentError', message: /"drop"/ })
      assert.ok((await api.pinLs()).some(p => p.cid === r.cid && p.name === 'kinds.txt'), 'the refused pin add left the pin as it was')
    })

    it('gc removes what no pin needs and keeps what one does', async () => {
      const keep = await api.publish(entries([{ path: 'keep.bin', bytes: big.subarray(0, 2_200_000) }]))
      const drop = await api.publish(entries([{ path: 'drop.bin', bytes: randomBytes(2_100_000) }]), { pin: false })
      assert.ok(!(await api.pinLs()).some(p => p.cid === drop.cid))
      const r = await api.gc()
      assert.ok(r.removed >= 3, `removed ${r.removed}`)
      assert.ok(r.freed >= 2_100_000)
      await assert.rejects(collect(api.cat(drop.cid)), { name: 'BlockNotFoundError' })
      assert.ok((await collect(api.cat(keep.cid))).equals(big.subarray(0, 2_200_000)))

      await api.pinRm(keep.cid)
      await api.gc()
      await assert.rejects(collect(api.cat(keep.cid)), { name: 'BlockNotFoundError' })
    })

    it('pins an unpinned DAG that is in the store', async () => {
      const r = await api.publish(entries([{ path: 'later.txt', bytes: text('pin me later') }]), { pin: false })
      const pin = await api.pinAdd(r.cid, { name: 'later' })
      assert.equal(pin.cid, r.cid)
      assert.equal(pin.name, 'later')
      assert.equal(pin.size, 12)
      await api.gc()
      assert.equal(String(await collect(api.cat(r.cid))), 'pin me later')
    })

    it('verify finds no corruption in a healthy store', async () => {
      const r = await api.verify()
      assert.ok(r.checked > 0)
      assert.deepEqual(r.corrupt, [])
    })

    it('connects to another peer and lists it', async () => {
      const p = await api.connect(ctx.other.address)
      assert.equal(p.peerId, ctx.other.peerId)
      const peers = await api.peers()
      assert.ok(peers.some(x => x.peerId === ctx.other.peerId))
    })

    it('members lists this peer as alive', async () => {
      const id = await api.id()
      const members = await api.members()
      const self = members.find(m => m.peerId === id.peerId)
      assert.equal(self?.self, true)
      assert.equal(self?.state, 'alive')
      assert.ok((self?.uploadSlots ?? 0) > 0)
    })

    it('provide refuses what is not stored, status and find answer for what is', async () => {
      const r = await api.publish(entries([{ path: 'routed.bin', bytes: randomBytes(1000) }]), { announce: false })
      await assert.rejects(api.provide('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'), { name: 'BlockNotFoundError' })
      const provided = await api.provide(r.cid)
      assert.equal(provided.cid, r.cid)
      assert.ok(provided.accepted >= 0)
      const status = await api.status(r.cid, { timeoutMs: 2000 })
      assert.equal(status.local, true)
      assert.equal(status.pinned, true)
      assert.ok(Array.isArray(await api.find(r.cid, { timeoutMs: 2000 })))
      await assert.rejects(api.find('not-a-cid'), { name: 'InvalidCIDError' })
    })

    it('watch streams announcements from a connected peer', async () => {
      await api.connect(ctx.other.address)
      const controller = new AbortController()
      const seen: string[] = []
      const watching = (async () => {
        for await (const a of api.watch({ signal: controller.signal })) seen.push(a.cid)
      })().catch(() => {})
      try {
        // the gossip mesh forms within a heartbeat or two; announce until one arrives
        let cid = ''
        for (let i = 0; i < 20 && !seen.includes(cid); i++) {
          cid = (await ctx.other.api.publish(entries([{ path: `news-${i}.txt`, bytes: text(`news ${i}\n`) }]))).cid
          await new Promise(resolve => setTimeout(resolve, 500))
        }
        assert.ok(seen.includes(cid), `saw ${seen.length} announcement(s)`)
      } finally {
        controller.abort()
        await watching
      }
    })

    it('exports a DAG as a CAR and imports it back; a corrupted CAR is refused by name', async () => {
      const r = await api.publish(entries([{ path: 'car.bin', bytes: big.subarray(0, 1_200_000) }]), { pin: false })
      const car = await collect(api.exportCar(r.cid))
      await api.gc()
      await assert.rejects(collect(api.cat(r.cid)), { name: 'BlockNotFoundError' })
      const imported = await api.importCar(chunks(car, 65_536))
      assert.deepEqual(imported.roots, [r.cid])
      assert.deepEqual(imported.pinned, [r.cid])
      assert.equal(imported.blocks, 3)
      assert.ok((await collect(api.cat(r.cid))).equals(big.subarray(0, 1_200_000)))
      const bad = Buffer.from(car)
      bad[bad.byteLength - 10] ^= 1
      await assert.rejects(api.importCar(chunks(bad, 65_536)), { name: 'InvalidCarError' })
      await assert.rejects(collect(api.exportCar(`${r.cid}/nope`)), { name: 'PathNotFoundError' })
    })

    it('makes keys and publishes and resolves names, refusing bad input alike', async () => {
      const key = await api.keyGen('compliance')
      assert.match(key.id, /^k51/)
      const keys = await api.keyLs()
      assert.deepEqual(keys.map(k => k.name).slice(0, 1), ['self'])
      assert.ok(keys.some(k => k.name === 'compliance' && k.id === key.id))
      await assert.rejects(api.keyGen('compliance'), { name: 'KeyExistsError' })
      const r = await api.publish(entries([{ path: 'named.txt', bytes: text('named\n') }]))
      const first = await api.namePublish(r.cid, { key: 'compliance', ttlMs: 30_000 })
      assert.deepEqual({ name: first.name, value: first.value, sequence: first.sequence, ttlMs: first.ttlMs }, { name: key.id, value: `/ipfs/${r.cid}`, sequence: 0, ttlMs: 30_000 })
      const second = await api.namePublish(`/ipfs/${r.cid}`, { key: 'compliance' })
      assert.equal(second.sequence, 1)
      const resolved = await api.nameResolve(`/ipns/${key.id}`)
      assert.deepEqual({ value: resolved.value, sequence: resolved.sequence }, { value: `/ipfs/${r.cid}`, sequence: 1 })
      const exported = await api.keyExport('compliance')
      await assert.rejects(api.keyImport('compliance', { key: exported.key }), { name: 'KeyExistsError' })
      assert.equal((await api.keyImport('compliance-copy', { key: exported.key })).id, key.id)
      await assert.rejects(api.keyImport('junk', { key: 'AAEC' }), { name: 'InvalidArgumentError' })
      assert.equal((await api.keyRm('compliance-copy')).id, key.id)
      await assert.rejects(api.keyRm('compliance-copy'), { name: 'KeyNotFoundError' })
      await assert.rejects(api.keyRm('self'), { name: 'InvalidArgumentError' })
      await assert.rejects(api.namePublish('not-a-cid'), { name: 'InvalidRecordError' })
      await assert.rejects(api.namePublish(r.cid, { key: 'missing' }), { name: 'KeyNotFoundError' })
      await assert.rejects(api.namePublish(r.cid, { lifetimeMs: '1h' as any }), { name: 'InvalidArgumentError', message: /"lifetimeMs"/ })
      await assert.rejects(api.nameResolve('k51nope'), { name: 'InvalidNameError' })
      const nobody = (await api.keyGen('compliance-unused')).id
      await assert.rejects(api.nameResolve(nobody), { name: 'NameNotFoundError' })
      // following: listed, then not
      assert.equal((await api.follow(nobody)).name, nobody)
      assert.ok((await api.following()).some(f => f.name === nobody))
      assert.equal((await api.unfollow(nobody)).name, nobody)
      assert.ok(!(await api.following()).some(f => f.name === nobody))
    })

    it('stats count the store and the network', async () => {
      const s = await api.stats()
      const pins = await api.pinLs()
      assert.equal(s.store.pins, pins.length)
      assert.ok(s.store.blocks > 0)
      assert.equal(s.online, true)
      assert.ok((s.network?.connections ?? 0) >= 1)
    })
  })
}
