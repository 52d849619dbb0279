/**
 * What a command line asks for, read before the parser is loaded: the command it names, and
 * whether it asks only for the top-level help.
 */

/** The options every command takes, before or after its name */
export const GLOBAL_OPTIONS = [
  { flags: '--repo <dir>', description: 'repo directory (default: $SHOAL_REPO, else ~/.shoal)' },
  { flags: '--json', description: 'print the result as one JSON object on the last line of stdout' }
] as const

/** The words of a command line past the global options before the command: [command, ...rest] */
function wordsOf (args: readonly string[]): string[] {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === '--repo') i++
    else if (!a.startsWith('-')) return args.slice(i).filter(w => !w.startsWith('-'))
  }
  return []
}

/** The command a command line names (`shoal --repo R cat X` names `cat`), if it names one */
export function commandWord (args: readonly string[]): string | undefined {
  return wordsOf(args)[0]
}

/**
 * What help, if any, a command line asks for before any command: 'help' for `shoal --help`,
 * `shoal help` (written to stdout, exit 0), 'usage' for a bare `shoal` (stderr, a usage error),
 * undefined when it asks for something else
 */
export function topHelpWanted (args: readonly string[]): 'help' | 'usage' | undefined {
  const words = wordsOf(args)
  if (words.length > 1 || (words.length === 1 && words[0] !== 'help')) return undefined
  let help = words.length === 1
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === '--repo') i++
    else if (a === '--help' || a === '-h') help = true
    else if (a !== '--json' && !a.startsWith('--repo=') && a !== 'help') return undefined
  }
  return help ? 'help' : 'usage'
}
