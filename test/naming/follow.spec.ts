/**
 * Following a name: each newer version is fetched and pinned, the last N kept and older ones
 * unpinned (only pins the follower made), a version that fails to fetch leaves the previous one
 * current, and versions survive a restart.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { logger } from '@libp2p/logger'
import { CID } from 'multiformats/cid'
import { Follower } from '../../src/naming/follow.js'
import { tmpDir } from '../helpers/tmp.js'
import type { Pin } from '../../src/store/index.js'

const NAME = 'k51qzi5uqu5dlaye939u4hmfrztmjwllwaws3iubfhbn45p8uxyc0twh5sbii5'
const CIDS = [
  'bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am',
  'bafkreiey5jxe6ilpf62lnh77tm5ejbbmhbugzjuf6p2v3remlu73ced34q',
  'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku',
  'bafkreidon73zkcrwdb5iafqtijxildoonbwnpv7dyd6ef3qdgads2jc4su'
]

describe('names: following', () => {
  let tmp: { dir: string, cleanup(): Promise<void> }

  before(async () => { tmp = await tmpDir() })
  after(async () => { await tmp?.cleanup() })

  function follower (file: string, pins: Map<string, Pin>, fail: Set<string>, fetched: string[], hinted: Array<string[] | undefined> = []): Follower {
    return new Follower({
      file,
      fetch: async (cid, pinName, hints) => {
        fetched.push(cid)
        hinted.push(hints?.peers)
        if (fail.has(cid)) throw new Error('no peer has it')
        if (!pins.has(cid)) pins.set(cid, { cid: CID.parse(cid), name: pinName, size: 1, pinnedAt: 0, origin: 'follow' })
        return { fetchedBytes: 10 }
      },
      pins: { get: async (cid) => pins.get(cid.toString()) },
      unpin: async (cid) => { pins.delete(cid.toString()) },
      log: logger('test')
    }, { follow: [], keepVersions: 2 })
  }

  it('fetches each newer version, keeps the last two, unpins older ones it pinned, and keeps others\' pins', async () => {
    const file = path.join(tmp.dir, 'a', 'follow.json')
    const pins = new Map<string, Pin>()
    // the user pinned the first version themselves
    pins.set(CIDS[0], { cid: CID.parse(CIDS[0]), name: 'mine', size: 1, pinnedAt: 0, origin: 'fetch' })
    const fetched: string[] = []
    const f = follower(file, pins, new Set(), fetched)
    await f.load()
    f.start()
    f.offer(NAME, { sequence: 0, value: `/ipfs/${CIDS[0]}` })
    await f.idle()
    assert.equal(fetched.length, 0, 'a name not followed is not fetched')
    await f.add(`/ipns/${NAME}`)
    for (let seq = 0; seq < 4; seq++) {
      f.offer(NAME, { sequence: seq, value: `/ipfs/${CIDS[seq]}` })
      await f.idle()
    }
    // an old record arriving late changes nothing
    f.offer(NAME, { sequence: 1, value: `/ipfs/${CIDS[1]}` })
    await f.idle()
    assert.deepEqual(fetched, CIDS)
    assert.deepEqual(f.current(NAME)?.cid, CIDS[3])
    assert.deepEqual(f.list()[0].versions.map(v => v.sequence), [3, 2])
    assert.deepEqual([...pins.keys()].sort(), [CIDS[0], CIDS[2], CIDS[3]].sort(), 'version 1 unpinned; the user\'s pin of version 0 kept')
    f.stop()
    // versions survive a restart
    const again = follower(file, pins, new Set(), [])
    await again.load()
    assert.equal(again.current(NAME)?.sequence, 3)
    // a follower that is not started (an offline command) fetches nothing, and adding a name
    // keeps what the file held
    const offline = follower(file, pins, new Set(), [])
    offline.offer(NAME, { sequence: 9, value: `/ipfs/${CIDS[0]}` })
    await offline.idle()
    await offline.add('k51qzi5uqu5dhh6kircniem4fko4a4b98s7qgwtw1llry33te4cqqdiudhrrjn')
    assert.equal(offline.current(NAME)?.sequence, 3)
    assert.equal(offline.list().length, 2)
    const removed = await again.remove(NAME)
    assert.deepEqual(removed.unpinned.sort(), [CIDS[2], CIDS[3]].sort())
    assert.equal(again.follows(NAME), false)
  })

  it('a file of followed names that cannot be read is never written over', async () => {
    const file = path.join(tmp.dir, 'c', 'follow.json')
    await fs.mkdir(path.dirname(file), { recursive: true })
    await fs.writeFile(file, '{not json')
    const f = follower(file, new Map(), new Set(), [])
    await assert.rejects(f.add(NAME), { name: 'InvalidConfigError', message: /cannot be read/ })
    assert.equal(await fs.readFile(file, 'utf8'), '{not json')
  })

  it('a version that fails to fetch leaves the previous one current', async () => {
    const pins = new Map<string, Pin>()
    const fetched: string[] = []
    const f = follower(path.join(tmp.dir, 'b', 'follow.json'), pins, new Set([CIDS[1]]), fetched)
    await f.load()
    f.start()
    await f.add(NAME)
    f.offer(NAME, { sequence: 5, value: `/ipfs/${CIDS[0]}` })
    await f.idle()
    f.offer(NAME, { sequence: 6, value: `/ipfs/${CIDS[1]}` })
    await f.idle()
    assert.equal(f.current(NAME)?.cid, CIDS[0])
    assert.match(f.list()[0].failed ?? '', /sequence 6 .* could not be fetched: no peer has it/)
    // the next version fetches and clears the failure
    f.offer(NAME, { sequence: 7, value: `/ipfs/${CIDS[2]}` })
    await f.idle()
    assert.equal(f.current(NAME)?.cid, CIDS[2])
    assert.equal(f.list()[0].failed, undefined)
    f.stop()
  })

  it('serves a version from the moment it is whole, not once it is pinned; one whose pin fails leaves the previous one served', async () => {
    const pins = new Map<string, Pin>()
    // each fetch stores its blocks, then waits here before its pin is written
    const pinning: Array<{ cid: string, done: (ok: boolean) => void }> = []
    const f = new Follower({
      file: path.join(tmp.dir, 'whole', 'follow.json'),
      fetch: async (cid, pinName, hints) => {
        hints?.onWhole?.()
        const ok = await new Promise<boolean>(resolve => { pinning.push({ cid, done: resolve }) })
        if (!ok) throw new Error('the pin could not be written')
        pins.set(cid, { cid: CID.parse(cid), name: pinName, size: 1, pinnedAt: 0, origin: 'follow' })
        return { fetchedBytes: 10 }
      },
      pins: { get: async (cid) => pins.get(cid.toString()) },
      unpin: async (cid) => { pins.delete(cid.toString()) },
      log: logger('test')
    }, { follow: [], keepVersions: 2 })
    const pinned = async (cid: string): Promise<void> => {
      while (pinning[0]?.cid !== cid) await new Promise(resolve => setTimeout(resolve, 5))
    }
    await f.load()
    f.start()
    await f.add(NAME)
    for (const [seq, cid] of [[1, CIDS[0]], [2, CIDS[1]], [3, CIDS[2]]] as const) {
      f.offer(NAME, { sequence: seq, value: `/ipfs/${cid}` })
      await pinned(cid)
      assert.equal(f.current(NAME)?.cid, cid, `sequence ${seq} is served while its pin is written`)
      pinning.shift()?.done(true)
      await f.idle()
    }
    // two kept; the oldest is unpinned once the newest is pinned
    assert.deepEqual(f.list()[0].versions.map(v => v.cid), [CIDS[2], CIDS[1]])
    assert.deepEqual([...pins.keys()].sort(), [CIDS[1], CIDS[2]].sort())
    f.offer(NAME, { sequence: 4, value: `/ipfs/${CIDS[3]}` })
    await pinned(CIDS[3])
    assert.equal(f.current(NAME)?.cid, CIDS[3])
    pinning.shift()?.done(false)
    await f.idle()
    assert.equal(f.current(NAME)?.cid, CIDS[2], 'the version before is served again')
    assert.deepEqual(f.list()[0].versions.map(v => v.cid), [CIDS[2], CIDS[1]])
    assert.match(f.list()[0].failed ?? '', /sequence 4 .* could not be fetched: the pin could not be written/)
    f.stop()
  })

  it('names the peer that published a record to the fetch of its version', async () => {
    const file = path.join(tmp.dir, 'hints', 'follow.json')
    const fetched: string[] = []
    const hinted: Array<string[] | undefined> = []
    const f = follower(file, new Map(), new Set(), fetched, hinted)
    await f.load()
    f.start()
    await f.add(NAME)
    const author = '12D3KooWGhgE7wpunyAciQJZcnxp9kk8XvKpW94HSFcGwGHs8Z1W'
    f.offer(NAME, { sequence: 0, value: `/ipfs/${CIDS[0]}` }, author)
    await f.idle()
    // a record from the DHT or a neighbour names no one
    f.offer(NAME, { sequence: 1, value: `/ipfs/${CIDS[1]}` })
    await f.idle()
    assert.deepEqual(fetched, [CIDS[0], CIDS[1]])
    assert.deepEqual(hinted, [[author], undefined])
  })
})
