import assert from 'node:assert/strict'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { SHOAL_BIN, lastJson, runCli, spawnLoopbackDaemon } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

/** Every file under a directory with a hash of its bytes: to prove a command changed nothing */
async function snapshot (dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  const walk = async (d: string): Promise<void> => {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else out[path.relative(dir, p)] = createHash('sha256').update(await fs.readFile(p)).digest('hex')
    }
  }
  await walk(dir)
  return out
}

function oneLine (stderr: string): void {
  assert.equal(stderr.trim().split('\n').length, 1, `expected one line, got: ${stderr}`)
  assert.match(stderr, /^shoal: /)
}

describe('cli: bad input', function () {
  this.timeout(60_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let repo: string
  let store: Record<string, string>

  before(async () => {
    tmp = await tmpDir()
    repo = path.join(tmp.dir, 'repo')
    assert.equal((await runCli(['--repo', repo, 'init'])).code, 0)
    await fs.writeFile(path.join(tmp.dir, 'f.txt'), 'kept\n')
    const pub = await runCli(['--repo', repo, '--json', 'publish', path.join(tmp.dir, 'f.txt')])
    assert.equal(pub.code, 0, pub.stderr)
    store = await snapshot(path.join(repo, 'store'))
  })

  afterEach(async () => {
    // whatever failed, the store is exactly as it was
    assert.deepEqual(await snapshot(path.join(repo, 'store')), store)
  })

  after(async () => { await tmp?.cleanup() })

  it('a missing path', async () => {
    const r = await runCli(['--repo', repo, 'publish', path.join(tmp.dir, 'nope.bin')])
    assert.equal(r.code, 1)
    oneLine(r.stderr)
    assert.match(r.stderr, /nope\.bin: no such file or directory/)
  })

  it('an unreadable path', async function () {
    if (process.getuid?.() === 0) {
      // root reads everything; use a path that is not a regular file or directory instead
      const r = await runCli(['--repo', repo, 'publish', '/dev/null'])
      assert.equal(r.code, 1)
      oneLine(r.stderr)
      assert.match(r.stderr, /not a regular file or directory/)
      return
    }
    const p = path.join(tmp.dir, 'secret.txt')
    await fs.writeFile(p, 'x', { mode: 0o000 })
    const r = await runCli(['--repo', repo, 'publish', p])
    assert.equal(r.code, 1)
    oneLine(r.stderr)
    assert.match(r.stderr, /permission denied/)
  })

  it('an invalid CID', async () => {
    for (const cmd of [['cat', 'notacid'], ['get', 'notacid', '-o', path.join(tmp.dir, 'o')], ['pin', 'add', 'notacid'], ['ls', 'zzz']]) {
      const r = await runCli(['--repo', repo, ...cmd])
      assert.equal(r.code, 2, `${cmd.join(' ')}: ${r.stderr}`)
      oneLine(r.stderr)
      assert.match(r.stderr, /invalid CID/)
    }
  })

  it('an unknown profile', async () => {
    const r = await runCli(['--repo', repo, 'publish', path.join(tmp.dir, 'f.txt'), '--profile', 'unixfs-v9'])
    assert.equal(r.code, 2)
    oneLine(r.stderr)
    assert.match(r.stderr, /unknown profile "unixfs-v9": use one of unixfs-v1-2025, unixfs-v0-2015/)
  })

  it('a usage error exits 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['cat'], /^shoal: missing required argument 'path'/],
      [['cat', 'x', '--offset', '-3'], /^shoal: option '--offset <bytes>' argument '-3' is invalid: must be a whole number of 0 or more/],
      [['get', 'x', '--bogus'], /^shoal: unknown option '--bogus'/],
      [['fetc'], /^shoal: unknown command 'fetc' \(Did you mean fetch\?\)/]
    ]
    for (const [args, message] of cases) {
      const r = await runCli(['--repo', repo, ...args])
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      oneLine(r.stderr)
      assert.match(r.stderr, message)
      assert.match(r.stderr, /\(run with --help for usage\)$/m)
    }
  })

  it('a repo that does not exist', async () => {
    const r = await runCli(['--repo', path.join(tmp.dir, 'none'), 'ls'])
    assert.equal(r.code, 1)
    oneLine(r.stderr)
    assert.match(r.stderr, /no shoal repo at .*none: run "shoal init"/)
  })

  it('a daemon that is not running, for commands that need one', async () => {
    for (const cmd of [['peers'], ['connect', '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWSoP5Qh55wURkZTW7V6tEiZtgWz8vGhTCnHCgP291FFYq']]) {
      const r = await runCli(['--repo', repo, ...cmd])
      assert.equal(r.code, 1)
      oneLine(r.stderr)
      assert.match(r.stderr, /needs a running daemon .* start one with "shoal start"/)
    }
  })

  it('a locked repo', async () => {
    const d = await spawnLoopbackDaemon(repo)
    try {
      const r = await runCli(['--repo', repo, 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0'])
      assert.equal(r.code, 1)
      oneLine(r.stderr)
      assert.match(r.stderr, new RegExp(`in use by process ${d.child.pid}`))
    } finally {
      assert.equal(await d.stop(), 0)
    }
  })

  it('listen and API addresses that are in use', async () => {
    const other = path.join(tmp.dir, 'other')
    const d = await spawnLoopbackDaemon(other)
    try {
      const tcp = (d.addresses.find(a => !a.includes('/ws')) ?? '').replace(/\/p2p\/.*$/, '')
      const r = await runCli(['--repo', repo, 'start', '--listen', tcp, '--api', '127.0.0.1:0'])
      assert.equal(r.code, 1)
      oneLine(r.stderr)
      assert.match(r.stderr, /cannot listen on .*EADDRINUSE.*pass --listen/)
      const a = await runCli(['--repo', repo, 'start', '--listen', '/ip4/127.0.0.1/tcp/0', '--api', d.api])
      assert.equal(a.code, 1)
      oneLine(a.stderr)
      assert.match(a.stderr, /cannot serve the control API on .*EADDRINUSE/)
    } finally {
      await d.stop()
    }
  })

  it('a corrupt config.json', async () => {
    const cfg = path.join(repo, 'config.json')
    const good = await fs.readFile(cfg, 'utf8')
    try {
      await fs.writeFile(cfg, '{ "swarm": ')
      for (const cmd of [['ls'], ['publish', path.join(tmp.dir, 'f.txt')], ['start', '--api', '127.0.0.1:0']]) {
        const r = await runCli(['--repo', repo, ...cmd])
        assert.equal(r.code, 1, `${cmd.join(' ')}: ${r.stderr}`)
        oneLine(r.stderr)
        assert.match(r.stderr, /config\.json is not valid JSON/)
      }
      await fs.writeFile(cfg, good.replace('"swarm"', '"swarmm"'))
      const r = await runCli(['--repo', repo, 'ls'])
      assert.equal(r.code, 1)
      assert.match(r.stderr, /unknown key "swarmm"/)
    } finally {
      await fs.writeFile(cfg, good)
    }
  })

  it('a bad --api or --listen value', async () => {
    const r = await runCli(['--repo', repo, 'start', '--api', '0.0.0.0:5080'])
    assert.equal(r.code, 2)
    oneLine(r.stderr)
    assert.match(r.stderr, /loopback/)
    const l = await runCli(['--repo', repo, 'start', '--api', '127.0.0.1:0', '--listen', 'not-a-multiaddr'])
    assert.equal(l.code, 2, l.stderr)
    oneLine(l.stderr)
  })

  it('get refuses to overwrite an existing path', async () => {
    const pins = lastJson((await runCli(['--repo', repo, '--json', 'ls'])).stdout).pins
    const existing = path.join(tmp.dir, 'f.txt')
    const r = await runCli(['--repo', repo, 'get', pins[0].cid, '-o', existing])
    assert.equal(r.code, 2)
    oneLine(r.stderr)
    assert.equal(await fs.readFile(existing, 'utf8'), 'kept\n')
  })

  it('a failed get --force leaves the file or directory at the output as it was', async () => {
    const src = path.join(tmp.dir, 'pub-tree')
    await fs.mkdir(src)
    await fs.writeFile(path.join(src, 'a.txt'), 'a\n')
    const root = lastJson((await runCli(['--repo', repo, '--json', 'publish', src])).stdout).cid
    store = await snapshot(path.join(repo, 'store'))
    const file = path.join(tmp.dir, 'precious.txt')
    await fs.writeFile(file, 'precious\n')
    const tree = path.join(tmp.dir, 'precious-dir')
    await fs.mkdir(tree)
    await fs.writeFile(path.join(tree, 'inside.txt'), 'inside\n')
    // a typo'd path, and a CID this peer does not have
    const missing = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
    for (const [target, out] of [[`${root}/nope`, file], [missing, file], [`${root}/nope`, tree], [missing, tree]]) {
      const r = await runCli(['--repo', repo, 'get', target, '-o', out, '--force'])
      assert.equal(r.code, 1, `${target} -o ${out}: ${r.stderr}`)
      oneLine(r.stderr)
      assert.equal(await fs.readFile(file, 'utf8'), 'precious\n')
      assert.deepEqual(await fs.readdir(tree), ['inside.txt'])
    }
    // nothing temporary is left beside them
    assert.deepEqual((await fs.readdir(tmp.dir)).filter(n => n.startsWith('.')), [])
  })

  it('get --force replaces a file with a tree and a tree with a file, once each is complete', async () => {
    const src = path.join(tmp.dir, 'src-tree')
    await fs.mkdir(path.join(src, 'sub'), { recursive: true })
    await fs.writeFile(path.join(src, 'sub', 'b.txt'), 'b\n')
    const treeCid = lastJson((await runCli(['--repo', repo, '--json', 'publish', src])).stdout).cid
    const fileCid = lastJson((await runCli(['--repo', repo, '--json', 'publish', path.join(tmp.dir, 'f.txt')])).stdout).cid
    store = await snapshot(path.join(repo, 'store'))
    const out = path.join(tmp.dir, 'replaced')
    await fs.writeFile(out, 'old file\n')
    const t = await runCli(['--repo', repo, 'get', treeCid, '-o', out, '--force'])
    assert.equal(t.code, 0, t.stderr)
    assert.equal(await fs.readFile(path.join(out, 'sub', 'b.txt'), 'utf8'), 'b\n')
    const f = await runCli(['--repo', repo, 'get', fileCid, '-o', out, '--force'])
    assert.equal(f.code, 0, f.stderr)
    assert.equal(await fs.readFile(out, 'utf8'), 'kept\n')
    assert.deepEqual((await fs.readdir(tmp.dir)).filter(n => n.startsWith('.')), [])
  })

  it('a failed write names the output path, never a temporary one', async () => {
    const pins = lastJson((await runCli(['--repo', repo, '--json', 'ls'])).stdout).pins
    const cid = pins[0].cid
    const nodir = path.join(tmp.dir, 'nodir')
    const cases = [['get', cid, '-o', path.join(nodir, 'x')], ['export', cid, '-o', path.join(nodir, 'x.car')]]
    // a directory that exists but takes no new files
    if (await fs.stat('/proc/self').then(() => true, () => false)) cases.push(['get', cid, '-o', '/proc/nope'], ['export', cid, '-o', '/proc/nope.car'])
    for (const cmd of cases) {
      const r = await runCli(['--repo', repo, ...cmd])
      assert.equal(r.code, 1, `${cmd.join(' ')}: ${r.stderr}`)
      oneLine(r.stderr)
      assert.ok(r.stderr.includes(`cannot write ${cmd[3]}:`), r.stderr)
      assert.doesNotMatch(r.stderr, /partial|\.tmp/)
    }
  })

  it('bad option values exit 2, and start creates nothing before checking them', async () => {
    const fresh = path.join(tmp.dir, 'fresh')
    const cases: Array<[string[], RegExp]> = [
      [['watch', '--count', '0'], /^shoal: option '--count <n>' argument '0' is invalid: must be a whole number of 1 or more/],
      [['watch', '--count', 'x'], /^shoal: option '--count <n>' argument 'x' is invalid/],
      [['--repo', fresh, 'init', '--swarm', 'nosuch'], /no swarm "nosuch": known swarms are/],
      [['--repo', fresh, 'init', '--swarm', 'local', '--config', 'f.json'], /give --config or --swarm, not both/],
      [['--repo', fresh, 'init', '--config', path.join(tmp.dir, 'none.json')], /cannot read config file/],
      [['--repo', fresh, 'start', '--init', '--swarm', 'nosuchswarm'], /no swarm "nosuchswarm"/],
      // (a name that does not resolve is refused too; not tested, as it would ask a name server)
      [['--repo', fresh, 'start', '--init', '--api', '127.0.0.1:0', '--gateway', '999.1.1.1:80'], /invalid --gateway host "999\.1\.1\.1": not an IP address/]
    ]
    for (const [args, message] of cases) {
      const r = await runCli(['--repo', repo, ...args])
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, message)
      assert.equal(await fs.stat(fresh).then(() => true, () => false), false, `${args.join(' ')} created the repo`)
    }
  })

  it('a command that needs a subcommand prints help to stderr and exits 2', async () => {
    for (const args of [[], ['pin'], ['swarm']]) {
      const r = await runCli(['--repo', repo, ...args])
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.equal(r.stdout, '')
      assert.match(r.stderr, /^Usage: shoal/)
    }
    // help asked for is a success
    for (const args of [['--help'], ['pin', '--help'], ['help']]) {
      const r = await runCli(args)
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stdout, /^Usage: shoal/)
    }
  })

  it('publish follows a symlink given as the path, and keeps its name', async () => {
    const link = path.join(tmp.dir, 'link-to-f')
    await fs.symlink(path.join(tmp.dir, 'f.txt'), link)
    const r = await runCli(['--repo', repo, '--json', 'publish', link])
    assert.equal(r.code, 0, r.stderr)
    const { cid, name, size } = lastJson(r.stdout)
    assert.equal(name, 'link-to-f')
    assert.equal(size, 5)
    assert.equal((await runCli(['--repo', repo, 'cat', cid])).stdout, 'kept\n')
    store = await snapshot(path.join(repo, 'store'))
  })

  it('publish of a tree names each FIFO or socket it leaves out, on stderr', async () => {
    const tree = path.join(tmp.dir, 'with-fifo')
    await fs.mkdir(tree)
    await fs.writeFile(path.join(tree, 'a.txt'), 'a\n')
    execFileSync('mkfifo', [path.join(tree, 'pipe')])
    const r = await runCli(['--repo', repo, '--json', 'publish', tree])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, 'shoal: warning: left out with-fifo/pipe: a socket, FIFO or device has no UnixFS form\n')
    const ls = await runCli(['--repo', repo, '--json', 'ls', lastJson(r.stdout).cid])
    assert.deepEqual(lastJson(ls.stdout).entries.map((e: any) => e.name), ['a.txt'])
    store = await snapshot(path.join(repo, 'store'))
  })

  it('cat and export end quietly when the reader closes stdout early', async () => {
    const big = path.join(tmp.dir, 'big.bin')
    await fs.writeFile(big, randomBytes(4 * 1024 * 1024))
    const pub = await runCli(['--repo', repo, '--json', 'publish', big])
    assert.equal(pub.code, 0, pub.stderr)
    store = await snapshot(path.join(repo, 'store'))
    for (const cmd of ['cat', 'export']) {
      // as `shoal cat CID | head -c 1000` does
      const child = spawn(process.execPath, [SHOAL_BIN, '--repo', repo, cmd, lastJson(pub.stdout).cid], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      await new Promise<void>(resolve => child.stdout.once('data', () => { child.stdout.destroy(); resolve() }))
      const code = await new Promise<number | null>(resolve => child.on('close', resolve))
      assert.equal(code, 0, `${cmd}: ${stderr}`)
      assert.equal(stderr, '')
    }
  })

  it('cat of a symlink in the DAG names its target and exits 2', async () => {
    const src = path.join(tmp.dir, 'with-link')
    await fs.mkdir(src)
    await fs.writeFile(path.join(src, 'a.txt'), 'a\n')
    await fs.symlink('a.txt', path.join(src, 'link'))
    const pub = await runCli(['--repo', repo, '--json', 'publish', src])
    assert.equal(pub.code, 0, pub.stderr)
    store = await snapshot(path.join(repo, 'store'))
    const r = await runCli(['--repo', repo, 'cat', `${lastJson(pub.stdout).cid}/link`])
    assert.equal(r.code, 2)
    assert.equal(r.stdout, '')
    oneLine(r.stderr)
    assert.match(r.stderr, /\/link is a symlink to a\.txt; cat does not follow symlinks/)
  })

  it('a Node.js older than 22 runs the command under the Node.js that comes with shoal', async function () {
    // the machines ship an older system Node; where none is found this has nothing to show
    const old = ['/usr/bin/node', '/usr/local/bin/node'].find(p => { try { return Number(execFileSync(p, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' })) < 22 } catch { return false } })
    if (old == null) this.skip()
    const version = spawnSync(old, [SHOAL_BIN, '--version'], { encoding: 'utf8' })
    assert.equal(version.status, 0, version.stderr)
    assert.equal(version.stdout.trim(), JSON.parse(await fs.readFile(new URL('../../../package.json', import.meta.url), 'utf8')).version)
    // the command's own exit code and one-line error come through
    const r = spawnSync(old, [SHOAL_BIN, '--repo', path.join(tmp.dir, 'no-such-repo'), 'ls'], { encoding: 'utf8' })
    assert.equal(r.status, 1)
    oneLine(r.stderr)
    assert.match(r.stderr, /^shoal: no shoal repo at /)
  })
})
