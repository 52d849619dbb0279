/**
 * The command table and the top-level help written from it: the same text the parser writes for
 * the whole command tree, at every width; each command line loads only the command it names.
 */
import assert from 'node:assert/strict'
import { buildProgram } from '../../src/cli/index.js'
import { commandWord, topHelpWanted } from '../../src/cli/argv.js'
import { COMMANDS, nameOf } from '../../src/cli/commands/index.js'
import { SHELLS } from '../../src/cli/completion.js'
import { topHelp } from '../../src/cli/help.js'
import { runCli } from '../helpers/cli.js'

describe('cli: help and the command table', () => {
  it('the top-level help is the parser\'s own help of the whole tree, at any width', async () => {
    const program = await buildProgram()
    for (const width of [40, 60, 80, 100, 132, 200]) {
      program.configureHelp({ helpWidth: width })
      assert.equal(topHelp(width), program.helpInformation(), `at ${width} columns`)
    }
  })

  it('every command is in the table once, and the table says which take options', async () => {
    const program = await buildProgram()
    const names = COMMANDS.map(nameOf)
    assert.equal(new Set(names).size, names.length)
    for (const cmd of program.commands.filter(c => c.name() !== 'help')) {
      const entry = COMMANDS.find(c => nameOf(c) === cmd.name())
      assert.ok(entry != null, cmd.name())
      assert.equal(entry.options, cmd.options.length > 0, `${cmd.name()}: options`)
    }
    assert.ok(COMMANDS.find(c => nameOf(c) === 'completion')?.description.includes(SHELLS.join(', ')))
  })

  it('a command line registers only the command it names', async () => {
    const one = await buildProgram(['cat'])
    assert.deepEqual(one.commands.map(c => c.name()), ['cat'])
    assert.equal((await buildProgram()).commands.length, COMMANDS.length)
  })

  it('reads the command and a request for help before the parser', () => {
    assert.equal(commandWord(['--repo', 'cat', '--json', 'ls', 'x']), 'ls')
    assert.equal(commandWord(['--json']), undefined)
    assert.equal(topHelpWanted(['--help']), 'help')
    assert.equal(topHelpWanted(['--repo', '/r', '--json', '-h']), 'help')
    assert.equal(topHelpWanted(['help']), 'help')
    assert.equal(topHelpWanted([]), 'usage')
    assert.equal(topHelpWanted(['--json']), 'usage')
    assert.equal(topHelpWanted(['help', 'cat']), undefined)
    assert.equal(topHelpWanted(['cat', '--help']), undefined)
    assert.equal(topHelpWanted(['--bogus', '--help']), undefined)
  })

  it('help, a bare shoal, a command\'s help and an unknown command, as whole processes', async () => {
    const help = await runCli(['--help'])
    assert.equal(help.code, 0)
    assert.equal(help.stdout, topHelp(80))
    const bare = await runCli([])
    assert.equal(bare.code, 2)
    assert.equal(bare.stderr, topHelp(80))
    const cat = await runCli(['help', 'cat'])
    assert.equal(cat.code, 0)
    assert.match(cat.stdout, /^Usage: shoal cat \[options\] <path>/)
    const unknown = await runCli(['pubish', 'x'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /unknown command 'pubish'.*publish/)
  })
})
