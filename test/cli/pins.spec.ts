/**
 * Pins through the CLI: an unreadable pin record is named by ls, pin ls and verify and stops gc
 * (offline and through a daemon); and every way of pinning a directory tree records its size as
 * publish does.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { lastJson, runCli, spawnLoopbackDaemon } from '../helpers/cli.js'
import { storedBlocks } from '../helpers/swarm.js'
import { bytesOf } from '../helpers/bytes.js'
import { tmpDir } from '../helpers/tmp.js'
import type { SpawnedDaemon } from '../helpers/cli.js'

async function shoal (repo: string, ...args: string[]): Promise<any> {
  const r = await runCli(['--repo', repo, '--json', ...args])
  assert.equal(r.code, 0, `shoal ${args.join(' ')}: ${r.stderr}`)
  return lastJson(r.stdout)
}

/** A tree of about 3 MB whose first entry (a.txt) is 2 bytes, so a size taken from it shows */
async function writeTree (dir: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'sub'), { recursive: true })
  await fs.writeFile(path.join(dir, 'a.txt'), 'a\n')
  await fs.writeFile(path.join(dir, 'big.bin'), bytesOf('big', 3_000_000))
  await fs.writeFile(path.join(dir, 'sub', 'b.txt'), 'beta\n')
  await fs.symlink('a.txt', path.join(dir, 'link'))
}

const TREE_BYTES = 2 + 3_000_000 + 5

describe('cli: pins', function () {
  this.timeout(120_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let tree: string

  before(async () => {
    tmp = await tmpDir()
    tree = path.join(tmp.dir, 'tree')
    await writeTree(tree)
  })

  after(async () => {
    await tmp?.cleanup()
  })

  describe('an unreadable pin record, offline', () => {
    let repo: string
    let cid: string
    let record: string

    before(async () => {
      repo = path.join(tmp.dir, 'offline')
      await shoal(repo, 'init')
      cid = (await shoal(repo, 'publish', tree)).cid
      await shoal(repo, 'publish', path.join(tree, 'sub', 'b.txt'))
      record = path.join(repo, 'store', 'pins', `${cid}.json`)
      await fs.writeFile(record, '{garbage\n')
    })

    it('ls and pin ls list the other pins, name the record on stderr and exit 1', async () => {
      for (const args of [['ls'], ['pin', 'ls']]) {
        const r = await runCli(['--repo', repo, ...args])
        assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`)
        assert.match(r.stdout, /\tb\.txt\n/)
        assert.ok(!r.stdout.includes(cid), 'the unreadable pin is not listed as a pin')
        const lines = r.stderr.trim().split('\n')
        assert.equal(lines.length, 1, r.stderr)
        assert.ok(lines[0].startsWith('shoal: ') && lines[0].includes(record) && lines[0].includes(`shoal pin rm ${cid}`), lines[0])
      }
      const r = await runCli(['--repo', repo, '--json', 'pin', 'ls'])
      assert.equal(r.code, 1)
      const out = lastJson(r.stdout)
      assert.deepEqual(out.pins.map((p: any) => p.name), ['b.txt'])
      assert.deepEqual(out.unreadable.map((u: any) => [u.cid, u.file]), [[cid, record]])
    })

    it('verify names it and exits 1', async () => {
      const r = await runCli(['--repo', repo, 'verify'])
      assert.equal(r.code, 1)
      assert.ok(r.stdout.includes(`unreadable pin record ${record}`), r.stdout)
      assert.match(r.stdout, /0 corrupt; 1 unreadable pin record/)
    })

    it('gc refuses in one line naming the file and what to do, and removes nothing', async () => {
      const before = await storedBlocks(repo)
      const r = await runCli(['--repo', repo, 'gc'])
      assert.equal(r.code, 1)
      const lines = r.stderr.trim().split('\n')
      assert.equal(lines.length, 1, r.stderr)
      assert.ok(lines[0].includes(record), lines[0])
      assert.match(lines[0], /^shoal: gc refused, nothing was removed: .*fix it.*shoal pin add.*shoal pin rm/)
      assert.equal(r.stdout, '')
      assert.equal(await storedBlocks(repo), before)
    })

    it('pin add writes it anew, with the tree\'s size; then gc runs and keeps the tree', async () => {
      const added = await shoal(repo, 'pin', 'add', cid, '--name', 'tree')
      assert.equal(added.size, TREE_BYTES)
      const pins = (await shoal(repo, 'pin', 'ls')).pins
      assert.deepEqual(pins.find((p: any) => p.cid === cid), { ...pins.find((p: any) => p.cid === cid), name: 'tree', size: TREE_BYTES })
      await shoal(repo, 'gc')
      const out = path.join(tmp.dir, 'restored')
      await shoal(repo, 'get', cid, '-o', out)
      assert.ok((await fs.readFile(path.join(out, 'big.bin'))).equals(await fs.readFile(path.join(tree, 'big.bin'))))
    })
  })

  describe('daemons', () => {
    let a: SpawnedDaemon
    let b: SpawnedDaemon
    let treeCid: string

    before(async () => {
      a = await spawnLoopbackDaemon(path.join(tmp.dir, 'a'))
      b = await spawnLoopbackDaemon(path.join(tmp.dir, 'b'))
      const published = await shoal(a.repo, 'publish', tree)
      treeCid = published.cid
      assert.equal(published.size, TREE_BYTES, 'publish counts file bytes')
    })

    after(async () => {
      await a?.stop()
      await b?.stop()
    })

    it('fetch pins a tree with the size publish gave it', async () => {
      await shoal(b.repo, 'fetch', treeCid, '--from', a.addresses[0])
      const pin = (await shoal(b.repo, 'pin', 'ls')).pins.find((p: any) => p.cid === treeCid)
      assert.equal(pin?.size, TREE_BYTES)
      const ls = await runCli(['--repo', b.repo, 'ls'])
      assert.match(ls.stdout, new RegExp(`${treeCid}\\t2\\.9 MiB\\t`))
    })

    it('a daemon\'s gc refuses while a pin record cannot be read, and ls names it', async () => {
      const record = path.join(a.repo, 'store', 'pins', `${treeCid}.json`)
      const good = await fs.readFile(record)
      await fs.writeFile(record, '{garbage\n')
      try {
        const before = await storedBlocks(a.repo)
        const gc = await runCli(['--repo', a.repo, 'gc'])
        assert.equal(gc.code, 1, gc.stderr)
        assert.equal(gc.stderr.trim().split('\n').length, 1, gc.stderr)
        assert.ok(gc.stderr.includes(record) && gc.stderr.includes('gc refused'), gc.stderr)
        assert.equal(await storedBlocks(a.repo), before)
        const ls = await runCli(['--repo', a.repo, 'ls'])
        assert.equal(ls.code, 1)
        assert.ok(ls.stderr.includes(record), ls.stderr)
      } finally {
        await fs.writeFile(record, good)
      }
      assert.equal((await runCli(['--repo', a.repo, 'gc'])).code, 0)
    })

    it('import and pin add of a tree record the size publish gave it', async () => {
      const car = path.join(tmp.dir, 'tree.car')
      await shoal(a.repo, 'export', treeCid, '-o', car)

      const imported = path.join(tmp.dir, 'imported')
      await shoal(imported, 'init')
      assert.deepEqual((await shoal(imported, 'import', car)).pinned, [treeCid])
      assert.equal((await shoal(imported, 'pin', 'ls')).pins[0]?.size, TREE_BYTES)

      const added = path.join(tmp.dir, 'added')
      await shoal(added, 'init')
      await shoal(added, 'import', car, '--no-pin')
      const info = await shoal(added, 'pin', 'add', treeCid, '--name', 'x')
      assert.equal(info.size, TREE_BYTES)
      assert.deepEqual((await shoal(added, 'pin', 'ls')).pins.map((p: any) => [p.name, p.size]), [['x', TREE_BYTES]])
    })
  })
})
