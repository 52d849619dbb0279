/**
 * CID vectors from Kubo's IPIP-499 profile tests (test/cli/cid_profiles_test.go), the UnixFS
 * spec's well-known CIDs and Kubo's gateway fixtures. The expected values come from those
 * sources, not from shoal; where no published vector exists, the expected CID is built from
 * first principles (a raw leaf is CIDv1(raw, sha256(bytes))).
 */
import assert from 'node:assert/strict'
import { createCipheriv, createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { importContent } from '../../src/content/index.js'
import type { ImportEntry } from '../../src/content/index.js'
import type { Blockstore } from 'interface-blockstore'

/** Kubo's deterministic test bytes: the ChaCha20 keystream keyed by sha256(seed), zero nonce */
function seeded (seed: string, size: number): Uint8Array {
  const key = createHash('sha256').update(seed, 'utf8').digest()
  const cipher = createCipheriv('chacha20', key, Buffer.alloc(16))
  return cipher.update(Buffer.alloc(size))
}

class MemoryBlocks implements Pick<Blockstore, 'put'> {
  readonly blocks = new Map<string, Uint8Array>()
  async put (cid: CID, bytes: any): Promise<CID> {
    const chunks: Uint8Array[] = []
    if (bytes instanceof Uint8Array) chunks.push(bytes)
    else for await (const c of bytes) chunks.push(c)
    this.blocks.set(cid.toString(), Buffer.concat(chunks))
    return cid
  }
}

async function * one (bytes: Uint8Array, size = 256 * 1024): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.byteLength; i += size) yield bytes.subarray(i, i + size)
}

async function cidOfFile (bytes: Uint8Array, profile: string): Promise<string> {
  const entries = (async function * (): AsyncGenerator<ImportEntry> {
    yield { path: 'file', kind: 'file', content: one(bytes) }
  })()
  return (await importContent(entries, new MemoryBlocks(), { profile })).cid.toString()
}

async function cidOfTree (files: Record<string, string>, dirs: string[], profile: string): Promise<string> {
  const entries = (async function * (): AsyncGenerator<ImportEntry> {
    for (const d of dirs) yield { path: d, kind: 'directory' }
    for (const [p, text] of Object.entries(files)) yield { path: p, kind: 'file', content: one(new TextEncoder().encode(text)) }
  })()
  return (await importContent(entries, new MemoryBlocks(), { profile })).cid.toString()
}

async function rawLeaf (bytes: Uint8Array): Promise<string> {
  return CID.createV1(raw.code, await sha256.digest(bytes)).toString()
}

const MiB = 1024 * 1024
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('content: CID vectors', () => {
  describe('unixfs-v1-2025', () => {
    const profile = 'unixfs-v1-2025'

    it('0 B: the empty raw block', async () => {
      const expected = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
      assert.equal(await rawLeaf(new Uint8Array(0)), expected)
      assert.equal(await cidOfFile(new Uint8Array(0), profile), expected)
    })

    it('1 B: a single raw leaf', async () => {
      const b = new Uint8Array([0x61])
      assert.equal(await cidOfFile(b, profile), await rawLeaf(b))
    })

    it('"hello world" (Kubo cid_profiles_test)', async () => {
      assert.equal(await cidOfFile(text('hello world'), profile), 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e')
    })

    it('"hello\\n" (Kubo gateway fixtures, --cid-version 1)', async () => {
      assert.equal(await cidOfFile(text('hello\n'), profile), 'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am')
    })

    it('exactly one chunk (1 MiB, seed chunk-v1-seed)', async () => {
      assert.equal(await cidOfFile(seeded('chunk-v1-seed', MiB), profile), 'bafkreiacndfy443ter6qr2tmbbdhadvxxheowwf75s6zehscklu6ezxmta')
    })

    it('one chunk plus one byte (1 MiB + 1, seed chunk-v1-seed)', async () => {
      assert.equal(await cidOfFile(seeded('chunk-v1-seed', MiB + 1), profile), 'bafybeigmix7t42i6jacydtquhet7srwvgpizfg7gjbq7627d35mjomtu64')
    })

    it('empty directory (UnixFS spec well-known CID)', async () => {
      assert.equal(await cidOfTree({}, ['empty'], profile), 'bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354')
    })

    it('directory tree (Kubo t0114 testdirlisting fixture)', async () => {
      const cid = await cidOfTree({
        'testdirlisting/hello': 'hello\n',
        'testdirlisting/api/file.txt': 'I am a txt file\n',
        'testdirlisting/ipfs/file.txt': 'I am a txt file\n',
        'testdirlisting/ipfs/ipns/bar': 'text-file-content\n'
      }, ['testdirlisting', 'testdirlisting/api', 'testdirlisting/ipfs', 'testdirlisting/ipfs/ipns'], profile)
      assert.equal(cid, 'bafybeiht6dtwk3les7vqm6ibpvz6qpohidvlshsfyr7l5mpysdw2vmbbhe')
    })
  })

  describe('unixfs-v0-2015', () => {
    const profile = 'unixfs-v0-2015'

    it('0 B: the empty dag-pb file', async () => {
      assert.equal(await cidOfFile(new Uint8Array(0), profile), 'QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH')
    })

    it('1 B (0x00)', async () => {
      assert.equal(await cidOfFile(new Uint8Array([0]), profile), 'QmS9JArPwa55ePgDnyg6TzX24mYTS1b1vLqWNebyVotKxQ')
    })

    it('"hello\\n" is QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN', async () => {
      assert.equal(await cidOfFile(text('hello\n'), profile), 'QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN')
    })

    it('"hello world" (Kubo cid_profiles_test)', async () => {
      assert.equal(await cidOfFile(text('hello world'), profile), 'Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD')
    })

    it('exactly one chunk (256 KiB, seed chunk-v0-seed)', async () => {
      assert.equal(await cidOfFile(seeded('chunk-v0-seed', 262144), profile), 'QmWmRj3dFDZdb6ABvbmKhEL6TmPbAfBZ1t5BxsEyJrcZhE')
    })

    it('one chunk plus one byte (256 KiB + 1, seed chunk-v0-seed)', async () => {
      assert.equal(await cidOfFile(seeded('chunk-v0-seed', 262145), profile), 'QmYyLxtzZyW22zpoVAtKANLRHpDjZtNeDjQdJrcQNWoRkJ')
    })

    it('one chunk of zeros (256 KiB)', async () => {
      assert.equal(await cidOfFile(new Uint8Array(262144), profile), 'QmRk1rduJvo5DfEYAaLobS2za9tDszk35hzaNSDCJ74DA7')
    })

    it('empty directory (UnixFS spec well-known CID)', async () => {
      assert.equal(await cidOfTree({}, ['empty'], profile), 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn')
    })
  })

  it('refuses an unknown profile', async () => {
    await assert.rejects(cidOfFile(text('x'), 'unixfs-v2'), { name: 'InvalidProfileError' })
  })
})
