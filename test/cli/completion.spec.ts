/**
 * `shoal completion SHELL`: scripts written from the command tree, so every command, subcommand
 * and option is offered; the bash one is run here as bash runs it on TAB.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs/promises'
import path from 'node:path'
import { buildProgram } from '../../src/cli/index.js'
import { runCli } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

describe('cli: completion', () => {
  let tmp: Awaited<ReturnType<typeof tmpDir>>
  let script: string

  before(async () => {
    tmp = await tmpDir()
    const r = await runCli(['completion', 'bash'])
    assert.equal(r.code, 0, r.stderr)
    script = path.join(tmp.dir, 'shoal.bash')
    await fs.writeFile(script, r.stdout)
  })
  after(async () => { await tmp.cleanup() })

  /** What bash offers after the words typed (the last one is being completed) */
  function complete (...words: string[]): string[] {
    const r = spawnSync('bash', ['-c', `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _shoal_completion; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', script, 'shoal', ...words], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    return r.stdout.split('\n').filter(l => l !== '')
  }

  it('bash offers every command, each command\'s options and subcommands, and files for paths', async () => {
    const commands = (await buildProgram()).commands.map(c => c.name()).filter(n => n !== 'help')
    assert.deepEqual(complete('').sort(), [...commands].sort())
    assert.deepEqual(complete('pu'), ['publish'])
    assert.deepEqual(complete('publish', '--pr'), ['--profile'])
    assert.deepEqual(complete('--repo', '/tmp/r', 'pin', '').sort(), ['add', 'ls', 'rm'])
    assert.deepEqual(complete('pin', 'add', '--n'), ['--name'])
    assert.deepEqual(complete('swarm', 'k'), ['keygen'])
    assert.ok(complete('fetch', '--').includes('--from'))
    assert.ok(complete('start', '--').includes('--no-gateway'))
    // the value of an option, and a command's path argument: bash's own file names
    assert.deepEqual(complete('publish', '--profile', ''), [])
    assert.deepEqual(complete('publish', ''), [])
  })

  it('zsh and fish scripts name every command; an unknown shell is a usage error', async () => {
    const commands = (await buildProgram()).commands.map(c => c.name()).filter(n => n !== 'help')
    const zsh = await runCli(['completion', 'zsh'])
    assert.equal(zsh.code, 0)
    assert.match(zsh.stdout, /bashcompinit/)
    const fish = await runCli(['completion', 'fish'])
    assert.equal(fish.code, 0)
    for (const c of commands) assert.match(fish.stdout, new RegExp(`-a ${c} -d `), c)
    assert.match(fish.stdout, /__fish_seen_subcommand_from pin; and not __fish_seen_subcommand_from add rm ls' -a add/)
    const bad = await runCli(['completion', 'tcsh'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /^shoal: no completion for "tcsh": give one of bash, zsh, fish\n$/)
  })
})
