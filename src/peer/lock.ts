/**
 * The repo's lock: one process writes a repo at a time. The lock file names its owner (pid, start
 * time, role), so a lock left by a process that is gone is taken over.
 */
import fs from 'node:fs/promises'
import { RepoLockedError } from '../errors.js'
import { repoPaths } from './paths.js'

/** Who holds a lock: a daemon (which will serve the control API once it is up) or a command */
export type LockRole = 'daemon' | 'command'

/** The owner of a lock: a process, told apart from a later one that reused its pid */
interface LockOwner {
  pid: number
  /** The process's start time from /proc, where there is one */
  started?: string
  /** Absent in locks written before roles were recorded: taken as a command */
  role?: LockRole
}

export interface RepoLock {
  release(): Promise<void>
}

export interface AcquireLockOptions {
  /** @default 'command' */
  role?: LockRole
  /**
   * How long to wait for a live holder to let go before failing with RepoLockedError: a daemon
   * waits out a short-lived command rather than failing its start
   * @default 0
   */
  waitMs?: number
}

/** How often a waiting process looks at the lock again */
const LOCK_POLL_MS = 50

/**
 * Take the repo's lock, so two processes never write one repo at once. A lock left by a process
 * that no longer runs (killed, crashed) is taken over.
 */
export async function acquireLock (root: string, options: AcquireLockOptions = {}): Promise<RepoLock> {
  const file = repoPaths(root).lock
  const me: LockOwner = { pid: process.pid, started: await startTimeOf(process.pid), role: options.role ?? 'command' }
  const deadline = Date.now() + (options.waitMs ?? 0)
  let staleRemoved = 0
  while (true) {
    if (await createWhole(file, JSON.stringify(me))) {
      return {
        release: async () => {
          const owner = await readLock(file)
          if (owner?.pid === me.pid) await fs.rm(file, { force: true })
        }
      }
    }
    const owner = await readLock(file)
    // our own pid with our start time means this process already holds the lock; the same
    // pid with another start time was an earlier process, now gone
    if (owner != null && await isAlive(owner)) {
      if (owner.pid === me.pid || Date.now() >= deadline) throw new RepoLockedError(root, owner.pid)
      await new Promise(resolve => setTimeout(resolve, LOCK_POLL_MS))
      continue
    }
    // stale: its owner is gone
    if (++staleRemoved > 3) throw new RepoLockedError(root, -1)
    await fs.rm(file, { force: true })
  }
}

/**
 * Create `file` holding `text`, or return false when it exists. The text is written under
 * another name and linked into place, so no reader ever sees the file empty (and takes it for a
 * lock whose owner is gone).
 */
async function createWhole (file: string, text: string): Promise<boolean> {
  const tmp = `${file}.${process.pid}.tmp`
  await fs.writeFile(tmp, text, { mode: 0o600 })
  try {
    await fs.link(tmp, file)
    return true
  } catch (err: any) {
    if (err.code === 'EEXIST') return false
    if (err.code !== 'EPERM' && err.code !== 'ENOTSUP' && err.code !== 'EOPNOTSUPP') throw err
  } finally {
    await fs.rm(tmp, { force: true })
  }
  // a file system without hard links: an exclusive create, whose content follows a moment later
  try {
    await fs.writeFile(file, text, { flag: 'wx', mode: 0o600 })
    return true
  } catch (err: any) {
    if (err.code === 'EEXIST') return false
    throw err
  }
}

/** The pid holding the lock, when it is alive */
export async function lockHolder (root: string): Promise<number | undefined> {
  return (await lockOwner(root))?.pid
}

/** The live process holding the lock and its role */
export async function lockOwner (root: string): Promise<{ pid: number, role: LockRole } | undefined> {
  const owner = await readLock(repoPaths(root).lock)
  if (owner != null && await isAlive(owner)) return { pid: owner.pid, role: owner.role === 'daemon' ? 'daemon' : 'command' }
  return undefined
}

async function readLock (file: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8'))
    if (typeof parsed?.pid === 'number') return parsed
  } catch {}
  return undefined
}

async function isAlive (owner: LockOwner): Promise<boolean> {
  try {
    process.kill(owner.pid, 0)
  } catch (err: any) {
    if (err.code !== 'EPERM') return false
  }
  const stat = await procStat(owner.pid)
  // where there is no /proc, a pid that answers signals is taken to be alive
  if (stat == null) return true
  // a zombie (killed, not yet reaped by its parent) answers kill(pid, 0) and keeps its start
  // time, but it holds nothing and will never run again
  if (stat.state === 'Z' || stat.state === 'X') return false
  return owner.started == null || stat.started === owner.started
}

/** Fields of /proc/PID/stat: the state (3) and when the process started (22, clock ticks since boot) */
async function procStat (pid: number): Promise<{ state: string, started: string } | undefined> {
  let stat: string
  try {
    stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // the command name (2) is in parentheses and may hold spaces and parentheses itself
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const state = fields[0]
  const started = fields[19]
  if (state == null || started == null) return undefined
  return { state, started }
}

async function startTimeOf (pid: number): Promise<string | undefined> {
  return (await procStat(pid))?.started
}
