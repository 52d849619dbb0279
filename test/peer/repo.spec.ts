/**
 * The repo on disk: init, config and key loading, the process lock, and where the repo is.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { acquireLock, initRepo, loadConfig, loadKey, lockHolder, lockOwner, repoPaths, resolveRepo } from '../../src/peer/repo.js'
import { tmpDir } from '../helpers/tmp.js'
import type { ChildProcess } from 'node:child_process'
import { rejectsNamed } from '../helpers/assert.js'

const DEFAULT_CONFIG = new URL('../../../configs/default.json', import.meta.url)

/** Field 22 of /proc/PID/stat, as the lock file records it */
async function startTime (pid: number): Promise<string> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8')
  const started = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  assert.ok(started != null && /^\d+$/.test(started), `start time of ${pid}: ${started}`)
  return started
}

async function spawned (cmd: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: 'ignore' })
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', reject)
  })
  assert.ok(child.pid != null)
  return child
}

async function exited (child: ChildProcess): Promise<void> {
  if (child.exitCode != null || child.signalCode != null) return
  await new Promise(resolve => child.once('exit', resolve))
}

async function exists (file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false)
}

/** The first line a child writes to stdout */
async function firstLine (child: ChildProcess): Promise<string> {
  let buf = ''
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    buf += chunk.toString()
    const nl = buf.indexOf('\n')
    if (nl >= 0) return buf.slice(0, nl).trim()
  }
  throw new Error(`no line from the child: ${buf}`)
}

/** Wait until field 3 of /proc/PID/stat is `state` */
async function waitForState (pid: number, state: string): Promise<void> {
  const until = Date.now() + 10_000
  for (;;) {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8')
    const now = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
    if (now === state) return
    if (Date.now() > until) throw new Error(`process ${pid} stayed in state ${now}`)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

async function readLockFile (root: string): Promise<{ pid: number, started?: string, role?: string }> {
  return JSON.parse(await fs.readFile(repoPaths(root).lock, 'utf8'))
}

describe('peer: repo', () => {
  let tmp: { dir: string, cleanup(): Promise<void> }
  let root: string

  beforeEach(async () => {
    tmp = await tmpDir()
    root = path.join(tmp.dir, 'repo')
  })

  afterEach(async () => {
    await tmp.cleanup()
  })

  describe('initRepo', () => {
    it('creates identity.key with mode 0600 and config.json equal to configs/default.json', async () => {
      const { key } = await initRepo(root)
      const paths = repoPaths(root)

      const keyStat = await fs.stat(paths.key)
      assert.equal(keyStat.mode & 0o777, 0o600)
      assert.equal((await fs.stat(root)).mode & 0o777, 0o700)
      assert.equal(await fs.readFile(paths.config, 'utf8'), await fs.readFile(DEFAULT_CONFIG, 'utf8'))

      const loaded = await loadKey(root)
      assert.equal(loaded.type, 'Ed25519')
      assert.ok(loaded.publicKey.equals(key.publicKey))
      const config = await loadConfig(root)
      assert.equal(config.api.address, '127.0.0.1:5080')
    })

    it('a second init throws RepoExistsError and keeps the identity', async () => {
      await initRepo(root)
      const keyBytes = await fs.readFile(repoPaths(root).key)
      await rejectsNamed(initRepo(root), 'RepoExistsError')
      assert.deepEqual(await fs.readFile(repoPaths(root).key), keyBytes)
    })

    it('refuses an invalid config template before writing anything', async () => {
      await rejectsNamed(initRepo(root, { configText: '{"swarm": "x"}' }), 'InvalidConfigError')
      await assert.rejects(fs.access(root))
    })
  })

  describe('loadConfig', () => {
    it('throws InvalidConfigError naming the file when config.json is not JSON', async () => {
      await initRepo(root)
      const file = repoPaths(root).config
      await fs.writeFile(file, '{"swarm": "default",')
      const err = await rejectsNamed(loadConfig(root), 'InvalidConfigError')
      assert.ok(err.message.includes(file), err.message)
    })

    it('throws RepoNotInitializedError when there is no repo', async () => {
      await rejectsNamed(loadConfig(root), 'RepoNotInitializedError')
    })

    it('gives a config from an earlier version the keys added since, keeping every value it has', async () => {
      await initRepo(root)
      const file = repoPaths(root).config
      const old = JSON.parse(await fs.readFile(file, 'utf8'))
      delete old.gossip
      delete old.replicate
      delete old.store.quota
      old.swarm = 'team'
      old.exchange.uploadSlots = 3
      await fs.writeFile(file, JSON.stringify(old))
      const config = await loadConfig(root)
      assert.equal(config.swarm, 'team')
      assert.equal(config.exchange.uploadSlots, 3)
      assert.equal(config.gossip.presenceIntervalMs, 10_000)
      assert.equal(config.replicate.enabled, false)
      assert.equal(config.store.quota, 0)
      const written = JSON.parse(await fs.readFile(file, 'utf8'))
      assert.deepEqual(written, config, 'the file now shows the added keys')
    })

    it('still refuses a config whose values are wrong, and leaves the file as it was', async () => {
      await initRepo(root)
      const file = repoPaths(root).config
      const old = JSON.parse(await fs.readFile(file, 'utf8'))
      delete old.gossip
      old.limits.maxConnections = 'many'
      const text = JSON.stringify(old)
      await fs.writeFile(file, text)
      const err = await rejectsNamed(loadConfig(root), 'InvalidConfigError')
      assert.match(err.message, /limits\.maxConnections/)
      assert.equal(await fs.readFile(file, 'utf8'), text)
    })
  })

  describe('acquireLock', () => {
    let child: ChildProcess | undefined

    beforeEach(async () => {
      await fs.mkdir(root, { recursive: true })
    })

    afterEach(async () => {
      if (child != null) {
        child.kill('SIGKILL')
        await exited(child)
        child = undefined
      }
    })

    it('writes a lock naming this process, and release removes it', async () => {
      const lock = await acquireLock(root)
      assert.deepEqual(await readLockFile(root), { pid: process.pid, started: await startTime(process.pid), role: 'command' })
      assert.equal(await lockHolder(root), process.pid)
      await lock.release()
      await assert.rejects(fs.access(repoPaths(root).lock))
      assert.equal(await lockHolder(root), undefined)
    })

    it('a second acquire in the same process is refused, and the first lock stays', async () => {
      const first = await acquireLock(root)
      const err = await rejectsNamed(acquireLock(root), 'RepoLockedError')
      assert.match(err.message, new RegExp(`process ${process.pid}\\b`))
      assert.equal((await readLockFile(root)).pid, process.pid)
      await first.release()
      await assert.rejects(fs.access(repoPaths(root).lock))
    })

    it('a lock naming this pid with another start time was an earlier process, and is taken over', async () => {
      await fs.writeFile(repoPaths(root).lock, JSON.stringify({ pid: process.pid, started: '1' }))
      const lock = await acquireLock(root)
      assert.deepEqual(await readLockFile(root), { pid: process.pid, started: await startTime(process.pid), role: 'command' })
      await lock.release()
    })

    it('throws RepoLockedError when the lock names another live process', async () => {
      child = await spawned('sleep', ['30'])
      const owner = { pid: child.pid as number, started: await startTime(child.pid as number) }
      await fs.writeFile(repoPaths(root).lock, JSON.stringify(owner))

      const err = await rejectsNamed(acquireLock(root), 'RepoLockedError')
      assert.match(err.message, new RegExp(`process ${owner.pid}\\b`))
      assert.deepEqual(await readLockFile(root), owner, 'the lock is left alone')
      assert.equal(await lockHolder(root), owner.pid)
    })

    it('throws RepoLockedError for a live process when the lock has no start time', async () => {
      child = await spawned('sleep', ['30'])
      await fs.writeFile(repoPaths(root).lock, JSON.stringify({ pid: child.pid }))
      await rejectsNamed(acquireLock(root), 'RepoLockedError')
    })

    it('takes over a lock whose pid is alive but started at another time (a reused pid)', async () => {
      child = await spawned('sleep', ['30'])
      const started = await startTime(child.pid as number)
      await fs.writeFile(repoPaths(root).lock, JSON.stringify({ pid: child.pid, started: `${started}1` }))
      const lock = await acquireLock(root)
      assert.equal((await readLockFile(root)).pid, process.pid)
      await lock.release()
    })

    it('takes over a lock left by a process that has exited', async () => {
      const dead = await spawned('sleep', ['30'])
      const owner = { pid: dead.pid as number, started: await startTime(dead.pid as number) }
      dead.kill('SIGKILL')
      await exited(dead)
      await fs.writeFile(repoPaths(root).lock, JSON.stringify(owner))
      assert.equal(await lockHolder(root), undefined)

      const lock = await acquireLock(root)
      assert.equal((await readLockFile(root)).pid, process.pid)
      assert.equal(await lockHolder(root), process.pid)
      await lock.release()
    })

    it('takes over a lock naming a short-lived child that has exited', async () => {
      const dead = await spawned('true', [])
      await exited(dead)
      await fs.writeFile(repoPaths(root).lock, JSON.stringify({ pid: dead.pid }))
      const lock = await acquireLock(root)
      assert.equal((await readLockFile(root)).pid, process.pid)
      await lock.release()
    })

    it('takes over a lock held by a zombie (exited, not yet reaped by its parent)', async function () {
      if (!await exists('/proc/self/stat')) this.skip()
      // sh starts a short-lived child, then becomes `sleep 30`, which never waits for it: once
      // the child exits it stays a zombie, still answering kill(pid, 0), until sleep is killed
      const parent = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] })
      child = parent
      const pid = Number(await firstLine(parent))
      assert.ok(Number.isSafeInteger(pid) && pid > 0, `the child's pid: ${pid}`)
      const owner = { pid, started: await startTime(pid) }
      await waitForState(pid, 'Z')
      assert.doesNotThrow(() => process.kill(pid, 0), 'a zombie answers signal 0')
      await fs.writeFile(repoPaths(root).lock, JSON.stringify(owner))

      assert.equal(await lockHolder(root), undefined, 'a zombie holds no lock')
      const lock = await acquireLock(root)
      assert.deepEqual(await readLockFile(root), { pid: process.pid, started: await startTime(process.pid), role: 'command' })
      await lock.release()
    })

    it('records the holder\'s role: a daemon, or a command (also for locks written without one)', async () => {
      const lock = await acquireLock(root, { role: 'daemon' })
      assert.equal((await readLockFile(root)).role, 'daemon')
      assert.deepEqual(await lockOwner(root), { pid: process.pid, role: 'daemon' })
      await lock.release()
      child = await spawned('sleep', ['30'])
      await fs.writeFile(repoPaths(root).lock, JSON.stringify({ pid: child.pid, started: await startTime(child.pid as number) }))
      assert.deepEqual(await lockOwner(root), { pid: child.pid, role: 'command' })
    })

    it('with waitMs, waits for a live holder to let go and then takes the lock', async () => {
      child = await spawned('sleep', ['30'])
      const owner = { pid: child.pid as number, started: await startTime(child.pid as number) }
      await fs.writeFile(repoPaths(root).lock, JSON.stringify(owner))
      // the holder lets go 300 ms from now, as a short command would
      const released = setTimeout(() => { void fs.rm(repoPaths(root).lock, { force: true }) }, 300)
      try {
        await rejectsNamed(acquireLock(root), 'RepoLockedError')
        const lock = await acquireLock(root, { role: 'daemon', waitMs: 5000 })
        assert.deepEqual(await readLockFile(root), { pid: process.pid, started: await startTime(process.pid), role: 'daemon' })
        await lock.release()
      } finally {
        clearTimeout(released)
      }
    })

    it('with waitMs, still fails with RepoLockedError once the wait is over', async () => {
      child = await spawned('sleep', ['30'])
      const owner = { pid: child.pid as number, started: await startTime(child.pid as number) }
      await fs.writeFile(repoPaths(root).lock, JSON.stringify(owner))
      const started = Date.now()
      const err = await rejectsNamed(acquireLock(root, { role: 'daemon', waitMs: 300 }), 'RepoLockedError')
      assert.ok(Date.now() - started >= 300, 'it waited')
      assert.match(err.message, new RegExp(`process ${owner.pid}\\b`))
      assert.deepEqual(await readLockFile(root), owner, 'the lock is left alone')
    })

    it('leaves no temporary file beside the lock', async () => {
      const lock = await acquireLock(root)
      await rejectsNamed(acquireLock(root), 'RepoLockedError')
      assert.deepEqual((await fs.readdir(root)).filter(f => f.startsWith('repo.lock')), ['repo.lock'])
      await lock.release()
    })

    it('release leaves a lock that another process has since taken', async () => {
      const lock = await acquireLock(root)
      child = await spawned('sleep', ['30'])
      const other = { pid: child.pid as number, started: await startTime(child.pid as number) }
      await fs.writeFile(repoPaths(root).lock, JSON.stringify(other))
      await lock.release()
      assert.deepEqual(await readLockFile(root), other)
    })
  })

  describe('resolveRepo', () => {
    let saved: { repo?: string, home?: string }

    beforeEach(() => {
      saved = { repo: process.env.SHOAL_REPO, home: process.env.HOME }
    })

    afterEach(() => {
      for (const [key, value] of [['SHOAL_REPO', saved.repo], ['HOME', saved.home]] as const) {
        if (value == null) delete process.env[key]
        else process.env[key] = value
      }
    })

    it('takes the flag over $SHOAL_REPO and the home directory', () => {
      process.env.SHOAL_REPO = path.join(tmp.dir, 'from-env')
      process.env.HOME = path.join(tmp.dir, 'home')
      assert.equal(resolveRepo(path.join(tmp.dir, 'from-flag')), path.join(tmp.dir, 'from-flag'))
    })

    it('resolves a relative flag against the working directory', () => {
      assert.equal(resolveRepo('rel/repo'), path.join(process.cwd(), 'rel/repo'))
    })

    it('takes $SHOAL_REPO when there is no flag', () => {
      process.env.SHOAL_REPO = path.join(tmp.dir, 'from-env')
      process.env.HOME = path.join(tmp.dir, 'home')
      assert.equal(resolveRepo(), path.join(tmp.dir, 'from-env'))
    })

    it('falls back to ~/.shoal', () => {
      delete process.env.SHOAL_REPO
      process.env.HOME = path.join(tmp.dir, 'home')
      assert.equal(os.homedir(), path.join(tmp.dir, 'home'))
      assert.equal(resolveRepo(), path.join(tmp.dir, 'home', '.shoal'))
    })
  })
})
