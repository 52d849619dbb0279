/**
 * `shoal export` and `shoal import`: CAR round trips offline and through daemons, and CARs that
 * must be refused without losing anything already stored.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { CarBlockIterator } from '@ipld/car/iterator'
import { SHOAL_BIN, lastJson, runCli } from '../helpers/cli.js'
import { startPeer } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'

async function shoal (repo: string, ...args: string[]): Promise<any> {
  const r = await runCli(['--repo', repo, '--json', ...args])
  assert.equal(r.code, 0, `shoal ${args.join(' ')}: ${r.stderr}`)
  return lastJson(r.stdout)
}

describe('cli: export and import CAR files', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let src: string
  let dst: string
  let data: Buffer
  let fileCid: string
  let treeCid: string

  before(async () => {
    tmp = await tmpDir()
    src = path.join(tmp.dir, 'src')
    dst = path.join(tmp.dir, 'dst')
    await shoal(src, 'init')
    await shoal(dst, 'init')
    data = randomBytes(2 * 1024 * 1024 + 4321)
    await fs.writeFile(path.join(tmp.dir, 'data.bin'), data)
    fileCid = (await shoal(src, 'publish', path.join(tmp.dir, 'data.bin'))).cid
    await fs.mkdir(path.join(tmp.dir, 'tree', 'sub'), { recursive: true })
    await fs.writeFile(path.join(tmp.dir, 'tree', 'a.txt'), 'alpha\n')
    await fs.writeFile(path.join(tmp.dir, 'tree', 'sub', 'b.txt'), 'beta\n')
    treeCid = (await shoal(src, 'publish', path.join(tmp.dir, 'tree'))).cid
  })

  after(async () => {
    await tmp?.cleanup()
  })

  it('round-trips a file and a tree offline: same CIDs, same bytes, roots pinned', async () => {
    const fileCar = path.join(tmp.dir, 'file.car')
    const exported = await shoal(src, 'export', fileCid, '-o', fileCar)
    assert.equal(exported.bytes, (await fs.stat(fileCar)).size)
    const reader = await CarBlockIterator.fromIterable((async function * () { yield await fs.readFile(fileCar) })())
    assert.deepEqual((await reader.getRoots()).map(String), [fileCid])

    const imported = await shoal(dst, 'import', fileCar)
    assert.deepEqual(imported.roots, [fileCid])
    assert.deepEqual(imported.pinned, [fileCid])
    assert.equal(imported.blocks, 4)
    const out = path.join(tmp.dir, 'restored.bin')
    assert.equal((await runCli(['--repo', dst, 'get', fileCid, '-o', out])).code, 0)
    assert.ok((await fs.readFile(out)).equals(data))

    const treeCar = path.join(tmp.dir, 'tree.car')
    await shoal(src, 'export', treeCid, '-o', treeCar)
    assert.deepEqual((await shoal(dst, 'import', treeCar)).pinned, [treeCid])
    const cat = await runCli(['--repo', dst, 'cat', `${treeCid}/sub/b.txt`])
    assert.equal(cat.stdout, 'beta\n')
    const pins = (await shoal(dst, 'pin', 'ls')).pins.map((p: any) => p.cid)
    assert.ok(pins.includes(fileCid) && pins.includes(treeCid))
  })

  it('writes the same CAR to a redirected stdout as to -o', async () => {
    const out = path.join(tmp.dir, 'stdout.car')
    const fd = await fs.open(out, 'w')
    try {
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(process.execPath, [SHOAL_BIN, '--repo', src, 'export', treeCid], { stdio: ['ignore', fd.fd, 'pipe'] })
        child.on('error', reject)
        child.on('close', resolve)
      })
      assert.equal(code, 0)
    } finally {
      await fd.close()
    }
    await shoal(src, 'export', treeCid, '-o', path.join(tmp.dir, 'o.car'))
    assert.ok((await fs.readFile(out)).equals(await fs.readFile(path.join(tmp.dir, 'o.car'))))
  })

  it('refuses a corrupted CAR with one clear line and exit 2, and loses nothing stored', async () => {
    const car = await fs.readFile(path.join(tmp.dir, 'file.car'))
    const bad = Buffer.from(car)
    bad[bad.byteLength - 100] ^= 0xff // inside the last block's data
    await fs.writeFile(path.join(tmp.dir, 'bad.car'), bad)
    const other = path.join(tmp.dir, 'other')
    await shoal(other, 'init')
    const r = await runCli(['--repo', other, 'import', path.join(tmp.dir, 'bad.car')])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^shoal: block \d+ of the CAR does not match its CID/)
    assert.equal(r.stderr.trim().split('\n').length, 1)
    assert.deepEqual((await shoal(other, 'pin', 'ls')).pins, [])

    // into a repo that already holds the DAG: still refused, and what it held is intact
    const again = await runCli(['--repo', dst, 'import', path.join(tmp.dir, 'bad.car')])
    assert.equal(again.code, 2)
    const verify = await shoal(dst, 'verify')
    assert.deepEqual(verify.corrupt, [])
    const out = path.join(tmp.dir, 'still.bin')
    assert.equal((await runCli(['--repo', dst, 'get', fileCid, '-o', out])).code, 0)
    assert.ok((await fs.readFile(out)).equals(data))

    // truncated, not a CAR at all, missing
    await fs.writeFile(path.join(tmp.dir, 'short.car'), car.subarray(0, car.byteLength - 5000))
    const short = await runCli(['--repo', other, 'import', path.join(tmp.dir, 'short.car')])
    assert.equal(short.code, 2)
    assert.match(short.stderr, /^shoal: the CAR is damaged after \d+ block/)
    await fs.writeFile(path.join(tmp.dir, 'junk.car'), 'this is not a CAR')
    const junk = await runCli(['--repo', other, 'import', path.join(tmp.dir, 'junk.car')])
    assert.equal(junk.code, 2)
    assert.match(junk.stderr, /^shoal: not a readable CAR file/)
    const missing = await runCli(['--repo', other, 'import', path.join(tmp.dir, 'nope.car')])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /^shoal: cannot read .*nope\.car \(ENOENT\)/)
  })

  it('refuses to pin a CAR that is not the whole DAG, unless told --no-pin', async () => {
    const blockCar = path.join(tmp.dir, 'block.car')
    await shoal(src, 'export', fileCid, '--scope', 'block', '-o', blockCar)
    const other = path.join(tmp.dir, 'partial')
    await shoal(other, 'init')
    const r = await runCli(['--repo', other, 'import', blockCar])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /does not hold the whole DAG/)
    const unpinned = await shoal(other, 'import', '--no-pin', blockCar)
    assert.deepEqual(unpinned.pinned, [])
    assert.equal(unpinned.blocks, 1)
  })

  it('exports from one daemon and imports into another through their APIs', async () => {
    const a = await startPeer(path.join(tmp.dir, 'da'))
    const b = await startPeer(path.join(tmp.dir, 'db'))
    try {
      const bytes = randomBytes(1_500_000)
      await fs.writeFile(path.join(tmp.dir, 'live.bin'), bytes)
      const { cid } = await shoal(a.repo, 'publish', path.join(tmp.dir, 'live.bin'))
      const car = path.join(tmp.dir, 'live.car')
      await shoal(a.repo, 'export', cid, '-o', car)
      const imported = await shoal(b.repo, 'import', car)
      assert.deepEqual(imported.pinned, [cid])
      const out = path.join(tmp.dir, 'live-out.bin')
      assert.equal((await runCli(['--repo', b.repo, 'get', cid, '-o', out])).code, 0)
      assert.ok((await fs.readFile(out)).equals(bytes))
      // a bad CAR through the daemon: the same one-line error and exit code
      const bad = await runCli(['--repo', b.repo, 'import', path.join(tmp.dir, 'bad.car')])
      assert.equal(bad.code, 2)
      assert.match(bad.stderr, /^shoal: block \d+ of the CAR does not match its CID/)
      // refused early, with megabytes still to come: the daemon reads the rest and answers
      const car2 = await fs.readFile(car)
      const early = Buffer.from(car2)
      early[200] ^= 0xff // inside the first block
      await fs.writeFile(path.join(tmp.dir, 'early.car'), early)
      await fs.writeFile(path.join(tmp.dir, 'garbage.car'), Buffer.alloc(3_000_000, 0x20))
      for (const [file, message] of [['early.car', /^shoal: block 1 of the CAR does not match its CID/], ['garbage.car', /^shoal: not a readable CAR file/]] as const) {
        const r = await runCli(['--repo', b.repo, 'import', path.join(tmp.dir, file)], { timeoutMs: 20_000 })
        assert.equal(r.code, 2, `${file}: ${r.stderr}`)
        assert.match(r.stderr, message)
        assert.equal(r.stderr.trim().split('\n').length, 1)
      }
      // and still serves
      assert.deepEqual((await shoal(b.repo, 'import', car)).pinned, [cid])
    } finally {
      await a.stop()
      await b.stop()
    }
  })
})
