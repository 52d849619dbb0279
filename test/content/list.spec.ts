/**
 * `list` answers a raw block without the exporter (a command that lists one small file should not
 * load it); what it answers is what the exporter says of the same block
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { exporter } from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { list } from '../../src/content/index.js'
import type { Blockstore } from 'interface-blockstore'

function memory (blocks: Map<string, Uint8Array>): Pick<Blockstore, 'get'> {
  return {
    async * get (cid: CID) {
      const bytes = blocks.get(cid.toString())
      if (bytes == null) throw Object.assign(new Error(`no block ${cid}`), { name: 'BlockNotFoundError' })
      yield bytes
    }
  } as unknown as Pick<Blockstore, 'get'>
}

describe('content: list', () => {
  it('lists a raw block as the exporter does: one file named by its CID, of its size', async () => {
    const bytes = randomBytes(1500)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    const blocks = memory(new Map([[cid.toString(), bytes]]))
    const listed = await list(blocks, { cid, segments: [] })
    const entry = await exporter(cid, blocks as any)
    assert.deepEqual(listed.map(e => ({ ...e, cid: e.cid.toString() })), [{ name: entry.name, cid: entry.cid.toString(), kind: 'file', size: Number(entry.size) }])
    assert.equal(listed[0].size, 1500)
  })

  it('a raw block that is not stored fails as the store says', async () => {
    const cid = CID.createV1(raw.code, await sha256.digest(randomBytes(10)))
    await assert.rejects(list(memory(new Map()), { cid, segments: [] }), { name: 'BlockNotFoundError' })
  })
})
