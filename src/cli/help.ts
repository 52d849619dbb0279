/**
 * The top-level help, written from the command table without loading the command-line parser or
 * any command: laid out as the parser lays out its own (test/cli/help.spec.ts holds the two to
 * the same text), so `shoal --help` costs little more than starting Node.
 */
import { GLOBAL_OPTIONS } from './argv.js'
import { COMMANDS } from './commands/index.js'

export const DESCRIPTION = 'a peer-to-peer gossip and content-distribution network'

/** Below this many columns for descriptions, they are not wrapped */
const MIN_WIDTH_TO_WRAP = 40

/** Wrap text at spaces to lines of at most `width` columns */
function wrap (text: string, width: number): string {
  if (width < MIN_WIDTH_TO_WRAP) return text
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/).filter(w => w !== '')) {
    if (line === '') line = word
    else if (line.length + 1 + word.length <= width) line += ` ${word}`
    else {
      lines.push(line)
      line = word
    }
  }
  lines.push(line)
  return lines.join('\n')
}

/** Items as `  TERM  DESCRIPTION`, descriptions aligned and wrapped to `width` */
function items (list: Array<[string, string]>, termWidth: number, width: number): string[] {
  return list.map(([term, description]) => {
    const indent = ' '.repeat(2 + termWidth + 2)
    return `  ${term.padEnd(termWidth)}  ${wrap(description, width - termWidth - 4).replaceAll('\n', `\n${indent}`)}`
  })
}

/** `shoal --help`, for a terminal `width` columns wide */
export function topHelp (width: number): string {
  const options: Array<[string, string]> = [
    ['-V, --version', 'output the version number'],
    ...GLOBAL_OPTIONS.map(o => [o.flags, o.description] as [string, string]),
    ['-h, --help', 'display help for command']
  ]
  const commands: Array<[string, string]> = [
    ...COMMANDS.map(c => {
      const [name, ...args] = c.usage.split(' ')
      return [[name, ...(c.options ? ['[options]'] : []), ...args].join(' '), c.description] as [string, string]
    }),
    ['help [command]', 'display help for command']
  ]
  const termWidth = Math.max(...[...options, ...commands].map(([term]) => term.length))
  return [
    'Usage: shoal [options] [command]',
    '',
    wrap(DESCRIPTION, width),
    '',
    'Options:',
    ...items(options, termWidth, width),
    '',
    'Commands:',
    ...items(commands, termWidth, width),
    ''
  ].join('\n')
}

/**
 * Write the top-level help a command line asked for (`topHelpWanted`): the help to stdout, or,
 * for a bare `shoal`, to stderr as a usage error. Returns the exit code.
 */
export function writeTopHelp (kind: 'help' | 'usage'): number {
  const out = kind === 'help' ? process.stdout : process.stderr
  out.write(topHelp(out.isTTY ? out.columns : 80))
  return kind === 'help' ? 0 : 2
}
