/**
 * The command line read without the parser (quick.ts): whatever it reads, commander reads the same
 * (the same action, arguments, options and globals); what it leaves to commander, commander reads
 * (or refuses) itself. A command through a running daemon or an offline read loads neither the
 * parser nor libp2p, as module-load tracing of whole processes shows.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { buildProgram } from '../../src/cli/index.js'
import { readQuick } from '../../src/cli/quick.js'
import { SHOAL_BIN, lastJson, runCli, spawnLoopbackDaemon } from '../helpers/cli.js'
import type { SpawnedDaemon } from '../helpers/cli.js'
import type { Command } from 'commander'

interface Parsed {
  words: string[]
  args: unknown[]
  options: Record<string, unknown>
  globals: Record<string, unknown>
}

/** What commander makes of a command line: the action it reaches and what it passes, or undefined on an error or help */
async function commanderReads (args: string[]): Promise<Parsed | undefined> {
  const program = await buildProgram()
  let reached: Parsed | undefined
  const quiet = (cmd: Command, words: string[]): void => {
    cmd.configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} })
    if (cmd !== program) {
      cmd.action((...params: any[]) => {
        const command = params[params.length - 1] as Command
        reached = { words, args: params.slice(0, -2), options: { ...params[params.length - 2] }, globals: command.optsWithGlobals() }
      })
    }
    for (const sub of cmd.commands) quiet(sub, [...words, sub.name()])
  }
  quiet(program, [])
  try {
    await program.parseAsync(['node', 'shoal', ...args])
  } catch {
    return undefined
  }
  return reached
}

async function quickReads (args: string[]): Promise<Parsed | undefined> {
  const q = await readQuick(args)
  return q == null ? undefined : { words: q.words, args: q.args, options: { ...q.options }, globals: q.globals }
}

/** Words command lines are made of: commands, subcommands, their options and values, and what quick.ts leaves to commander */
const WORDS = [
  'id', 'ls', 'cat', 'get', 'stats', 'pin', 'add', 'rm', 'find', 'status', 'watch', 'verify', 'key', 'gen', 'name', 'follow',
  'export', 'completion', 'help', 'nope', 'start', 'publish',
  '--repo', '--repo=/r', '/r', '--json', '--json=1', '--offset', '--offset=7', '5', '-1', '0', 'x', '--length', '--force',
  '-o', 'out', '--output', '--limit', '--timeout', '--count', '--drop', '--name', '--bogus', '-', '--', '-h', '--help', '-V',
  '-ofile', 'bafkreidldffskmab3mi2vdjx4mrbkidjamesopofeyyuaeqgtokdbqousu'
]

describe('cli: command lines read without the parser', function () {
  this.timeout(120_000)

  it('reads the usual command lines itself, as commander reads them', async () => {
    const lines = [
      ['id'], ['--json', 'id'], ['--repo', '/r', 'ls'], ['ls', '--repo=/r', '--json'], ['stats'],
      ['cat', 'X'], ['--repo', '/r', 'cat', 'X', '--offset', '5', '--length=3'], ['get', 'X', '-o', 'out', '--force'],
      ['pin', 'ls'], ['--json', 'pin', 'add', 'X', '--name', 'n'], ['find', 'X', '--limit', '3'], ['status', 'X'],
      ['watch', '--count', '2'], ['verify', '--drop'], ['export', 'X', '-o', 'f'], ['ls', 'X/a b']
    ]
    for (const line of lines) {
      const quick = await quickReads(line)
      assert.ok(quick != null, `read itself: ${line.join(' ')}`)
      assert.deepEqual(quick, await commanderReads(line), line.join(' '))
    }
    // defaults and parsed values arrive as commander gives them
    assert.deepEqual((await quickReads(['find', 'X']))?.options, { limit: 20, timeout: 30 })
    assert.deepEqual((await quickReads(['--repo', '/a', 'cat', '--repo=/b', 'X', '--offset', '9']))?.globals, { repo: '/b', offset: 9 })
  })

  it('leaves help, the version, errors and what it does not know to commander', async () => {
    for (const line of [[], ['help', 'cat'], ['cat', '--help'], ['-V'], ['cat'], ['cat', 'a', 'b'], ['cat', 'X', '--bogus'],
      ['cat', 'X', '--offset'], ['cat', 'X', '--offset', 'x'], ['cat', '--', 'X'], ['get', 'X', '-oout'], ['pin'], ['pin', 'nope'],
      ['nope'], ['completion', 'bash'], ['--json=1', 'id'], ['--offset', '5', 'cat', 'X'], ['key', 'export', 'k', '-o', 'f']]) {
      assert.equal(await quickReads(line), undefined, line.join(' '))
    }
  })

  it('whatever it reads, commander reads the same (random command lines)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.constantFrom(...WORDS), { maxLength: 6 }), async (line) => {
      const quick = await quickReads(line)
      if (quick == null) return
      assert.deepEqual(quick, await commanderReads(line), line.join(' '))
    }), { numRuns: 400 })
  })

  describe('as whole processes', () => {
    let dir: string
    let daemon: SpawnedDaemon | undefined
    let cid: string

    before(async () => {
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'shoal-quick-'))
      const file = path.join(dir, 'f.txt')
      await fs.writeFile(file, 'hello quick')
      for (const repo of ['offline', 'online']) assert.equal((await runCli(['--repo', path.join(dir, repo), 'init'])).code, 0)
      const published = await runCli(['--repo', path.join(dir, 'offline'), '--json', 'publish', file])
      cid = lastJson(published.stdout).cid
      daemon = await spawnLoopbackDaemon(path.join(dir, 'online'))
      assert.equal((await runCli(['--repo', path.join(dir, 'online'), 'publish', file])).code, 0)
    })

    after(async () => {
      await daemon?.stop()
      await fs.rm(dir, { recursive: true, force: true })
    })

    /** The modules a command loads (files and builtins), from a load hook */
    async function loads (args: string[]): Promise<{ stdout: string, modules: string[] }> {
      const hook = path.join(dir, 'trace.mjs')
      await fs.writeFile(hook, `import module from 'node:module'\nimport { writeSync } from 'node:fs'\nmodule.registerHooks({ load (url, ctx, next) { writeSync(2, 'LOAD ' + url + '\\n'); return next(url, ctx) } })\n`)
      const r = spawnSync(process.execPath, ['--import', hook, SHOAL_BIN, ...args], { encoding: 'utf8', timeout: 60_000 })
      assert.equal(r.status, 0, r.stderr)
      return { stdout: r.stdout, modules: r.stderr.split('\n').filter(l => l.startsWith('LOAD ')).map(l => l.slice(5)) }
    }

    const heavy = ['/commander/', '/libp2p/', '/@libp2p/', '/gossipsub/', '/kad-dht/', '/gateway/', 'node:http', 'node:worker_threads', 'node:crypto', '/hashes/sha2']

    it('commands through the daemon and offline reads load no parser, libp2p, gateway, http client or write path', async () => {
      const online = path.join(dir, 'online')
      const offline = path.join(dir, 'offline')
      for (const args of [['--repo', online, 'id'], ['--repo', online, 'ls'], ['--repo', online, 'stats'], ['--repo', online, 'cat', cid],
        ['--repo', offline, 'ls'], ['--repo', offline, 'cat', cid]]) {
        const { stdout, modules } = await loads(args)
        assert.ok(modules.some(m => m.endsWith('/dist/src/cli/quick.js')), 'the trace sees shoal\'s modules')
        for (const h of heavy) assert.deepEqual(modules.filter(m => m.includes(h)), [], `${args.slice(2).join(' ')} loads ${h}`)
        if (args[2] === 'cat') assert.equal(stdout, 'hello quick')
      }
    })

    it('a usage error still loads the parser and says what is wrong', async () => {
      const { modules } = await loads(['--repo', path.join(dir, 'online'), 'cat', '--help'])
      assert.ok(modules.some(m => m.includes('/commander/')))
    })
  })
})
