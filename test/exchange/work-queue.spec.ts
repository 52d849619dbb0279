/**
 * The fetch's work queue: DAG order, and a done block leaves it wherever its job is. A copy in
 * flight from a peer that died while another copy was being stored could put the job back in the
 * queue; the block, done meanwhile, must not stay as work, or the fetch never ends.
 */
import assert from 'node:assert/strict'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { Lacks } from '../../src/exchange/lacks.js'
import { WorkQueue } from '../../src/exchange/work-queue.js'
import type { Job } from '../../src/exchange/work-queue.js'

async function job (n: number, order: number[]): Promise<Job> {
  const cid = CID.createV1(raw.code, await sha256.digest(Uint8Array.of(n)))
  return { cid, key: cid.toString(), order, askedFrom: new Map() }
}

describe('exchange: the work queue', () => {
  it('hands out jobs in DAG order', async () => {
    const q = new WorkQueue()
    const jobs = [await job(1, [1]), await job(2, [0, 1]), await job(3, [0]), await job(4, [0, 0])]
    for (const j of jobs) q.add(j)
    const taken = [q.take(undefined), q.take(undefined), q.take(undefined), q.take(undefined)].map(j => j?.order.join('.'))
    assert.deepEqual(taken, ['0', '0.0', '0.1', '1'])
    assert.equal(q.take(undefined), undefined)
  })

  it('a done block leaves the work whether its job is in flight or back in the queue', async () => {
    const q = new WorkQueue()
    const a = await job(1, [0])
    const b = await job(2, [1])
    q.add(a)
    q.add(b)
    assert.equal(q.take(undefined), a)
    // a's copy from a dead peer put it back while another copy was stored
    q.requeue(a)
    assert.equal(q.waiting, 2)
    q.remove(a.key)
    assert.equal(q.has(a.key), false)
    assert.equal(q.size, 1)
    assert.equal(q.take(undefined), b, 'the done block is not handed out again')
    q.remove(b.key)
    assert.equal(q.size, 0)
  })
})

describe('exchange: which peers lack which blocks', () => {
  const job = (key: string): { key: string } => ({ key })

  it('finds a queued block every peer lacks, and looks again only after a change', () => {
    const lacks = new Lacks()
    assert.equal(lacks.unobtainable(['p', 'q'], [job('a')]), undefined, 'no peer lacks anything')
    lacks.note('p', 'a')
    assert.equal(lacks.unobtainable(['p', 'q'], [job('a')]), undefined, 'q has not said it lacks a')
    lacks.note('q', 'a')
    assert.deepEqual(lacks.unobtainable(['p', 'q'], [job('b'), job('a')]), job('a'))
    assert.equal(lacks.unobtainable(['p', 'q'], [job('a')]), undefined, 'nothing changed since')
    lacks.peerLeft()
    assert.deepEqual(lacks.unobtainable(['p'], [job('a')]), job('a'))
    assert.deepEqual([...lacks.of('p') ?? []], ['a'])
    assert.equal(lacks.of('r'), undefined)
  })
})
