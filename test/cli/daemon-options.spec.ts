/**
 * `shoal start` re-executes itself, in the same process, with the daemon's Node options and
 * environment (DAEMON_NODE_OPTIONS, DAEMON_ENV); what the user sets wins.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { DAEMON_ENV, DAEMON_NODE_OPTIONS } from '../../src/constants.js'
import { spawnLoopbackDaemon } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import type { SpawnedDaemon } from '../helpers/cli.js'

function procList (pid: number, file: 'cmdline' | 'environ'): string[] {
  return readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\0').filter(s => s.length > 0)
}

describe('cli: the daemon process', function () {
  this.timeout(60_000)
  let tmp: Awaited<ReturnType<typeof tmpDir>>
  const daemons: SpawnedDaemon[] = []

  before(function () {
    // the re-execution needs process.execve (Node 23.11+), the check needs /proc
    if (typeof (process as any).execve !== 'function' || !existsSync('/proc/self/environ')) this.skip()
  })

  beforeEach(async () => {
    tmp = await tmpDir()
  })

  afterEach(async () => {
    await Promise.all(daemons.splice(0).map(async d => d.stop()))
    await tmp?.cleanup()
  })

  it('runs with the daemon options and environment, in the process that was started', async () => {
    const saved = process.env.MALLOC_ARENA_MAX
    delete process.env.MALLOC_ARENA_MAX
    let d: SpawnedDaemon
    try {
      d = await spawnLoopbackDaemon(path.join(tmp.dir, 'repo'))
    } finally {
      if (saved != null) process.env.MALLOC_ARENA_MAX = saved
    }
    daemons.push(d)
    const pid = d.child.pid as number
    const args = procList(pid, 'cmdline')
    for (const option of DAEMON_NODE_OPTIONS) assert.ok(args.includes(option), `${option} in ${args.join(' ')}`)
    const env = procList(pid, 'environ')
    for (const [name, value] of Object.entries(DAEMON_ENV)) assert.ok(env.includes(`${name}=${value}`), `${name}=${value}`)
  })

  it('an environment variable the user set is kept', async () => {
    const saved = process.env.MALLOC_ARENA_MAX
    process.env.MALLOC_ARENA_MAX = '3'
    let d: SpawnedDaemon
    try {
      d = await spawnLoopbackDaemon(path.join(tmp.dir, 'repo'))
    } finally {
      if (saved != null) process.env.MALLOC_ARENA_MAX = saved
      else delete process.env.MALLOC_ARENA_MAX
    }
    daemons.push(d)
    assert.ok(procList(d.child.pid as number, 'environ').includes('MALLOC_ARENA_MAX=3'))
  })
})
