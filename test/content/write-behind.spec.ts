/**
 * The import's write-behind queue: a block is written from a copy in a buffer of the queue's own,
 * used again once that write is done, so the importer's buffer is not kept until the disk is done.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { WriteBehind } from '../../src/content/write-behind.js'

async function block (bytes: Uint8Array): Promise<{ cid: CID, bytes: Uint8Array }> {
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

describe('content: write-behind', () => {
  it('writes copies, in buffers it uses again once their writes are done, and every block arrives whole', async () => {
    /** What each write was handed, and a copy of its bytes as they were then */
    const handed: Array<{ view: Uint8Array, bytes: Buffer }> = []
    const finish: Array<() => void> = []
    const target = {
      put: async (cid: CID, bytes: any): Promise<CID> => {
        handed.push({ view: bytes, bytes: Buffer.from(bytes) })
        await new Promise<void>(resolve => { finish.push(resolve) })
        return cid
      }
    }
    const writer = new WriteBehind(target, 4 * 1024 * 1024)
    const blocks = await Promise.all([randomBytes(1000), randomBytes(70_000), randomBytes(5)].map(block))
    await writer.put(blocks[0].cid, blocks[0].bytes)
    await writer.put(blocks[1].cid, blocks[1].bytes)
    assert.equal(handed.length, 2)
    assert.notEqual(handed[0].view.buffer, blocks[0].bytes.buffer, 'a copy is written, not the importer\'s buffer')
    assert.notEqual(handed[0].view.buffer, handed[1].view.buffer, 'two writes at once have a buffer each')
    // the first write is done: its buffer takes the next block
    finish.shift()?.()
    await new Promise(resolve => setImmediate(resolve))
    await writer.put(blocks[2].cid, blocks[2].bytes)
    assert.equal(handed[2].view.buffer, handed[0].view.buffer)
    for (const f of finish.splice(0)) f()
    await writer.flush()
    for (const [i, b] of blocks.entries()) assert.ok(handed[i].bytes.equals(b.bytes), `block ${i} arrived whole`)
  })

  it('passes a block larger than its buffers on as it is', async () => {
    const handed: Uint8Array[] = []
    const writer = new WriteBehind({ put: async (cid: CID, bytes: any) => { handed.push(bytes); return cid } }, 8 * 1024 * 1024)
    const big = await block(randomBytes(1024 * 1024 + 1))
    await writer.put(big.cid, big.bytes)
    await writer.flush()
    assert.equal(handed[0], big.bytes)
  })
})
