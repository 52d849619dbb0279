/**
 * Shell completion scripts, written from the command tree itself, so a command or option added
 * to the CLI is completed without more work. The scripts are static: a TAB never starts shoal.
 */
import type { Command, Option } from 'commander'

export const SHELLS = ['bash', 'zsh', 'fish'] as const
export type Shell = typeof SHELLS[number]

/** A command's place in the tree: its words after `shoal` (empty for the top) */
interface Node {
  path: string[]
  description: string
  subcommands: Array<{ name: string, description: string }>
  options: Array<{ flags: string[], description: string, takesValue: boolean }>
}

function nodesOf (program: Command): Node[] {
  const nodes: Node[] = []
  const visit = (cmd: Command, path: string[]): void => {
    const visible = cmd.commands.filter(c => c.name() !== 'help')
    nodes.push({
      path,
      description: cmd.description(),
      subcommands: visible.map(c => ({ name: c.name(), description: c.description() })),
      options: cmd.options.map((o: Option) => ({
        flags: [o.long, o.short].filter((f): f is string => f != null),
        description: o.description,
        takesValue: o.required || o.optional
      })).concat([{ flags: ['--help', '-h'], description: 'show help', takesValue: false }])
    })
    for (const c of visible) visit(c, [...path, c.name()])
  }
  visit(program, [])
  return nodes
}

/** Options every command takes (the program's own, such as --repo and --json) */
function globalOptions (program: Command): Node['options'] {
  return program.options.map((o: Option) => ({ flags: [o.long, o.short].filter((f): f is string => f != null), description: o.description, takesValue: o.required || o.optional }))
}

/** The completion script for `shell` */
export function completionScript (program: Command, shell: Shell): string {
  const nodes = nodesOf(program)
  const globals = globalOptions(program)
  return shell === 'fish' ? fish(nodes, globals) : shell === 'zsh' ? zsh(bash(nodes, globals)) : bash(nodes, globals)
}

function bash (nodes: Node[], globals: Node['options']): string {
  const valued = [...new Set([...globals, ...nodes.flatMap(n => n.options)].filter(o => o.takesValue).flatMap(o => o.flags))]
  const globalFlags = globals.flatMap(o => o.flags)
  const cases = nodes.map((n) => {
    const options = [...new Set([...n.options.flatMap(o => o.flags), ...globalFlags])]
    return `    '${n.path.join(' ')}') subs='${n.subcommands.map(s => s.name).join(' ')}' opts='${options.join(' ')}' ;;`
  })
  return `# shoal completion for bash: add to ~/.bashrc
#   source <(shoal completion bash)
_shoal_completion() {
  local cur prev path word i subs opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # an option that takes a value: complete file names
  case " ${valued.join(' ')} " in *" $prev "*) COMPREPLY=(); return 0 ;; esac
  path=''
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    case " ${valued.join(' ')} " in *" $word "*) ((i++)); continue ;; esac
    case "$word" in -*) continue ;; esac
    case "$path" in
${nodes.filter(n => n.subcommands.length > 0).map(n => `      '${n.path.join(' ')}') case " ${n.subcommands.map(s => s.name).join(' ')} " in *" $word "*) path="\${path:+$path }$word" ;; esac ;;`).join('\n')}
    esac
  done
  case "$path" in
${cases.join('\n')}
    *) subs='' opts='' ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ -n "$subs" ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  fi
  # nothing to offer: file names (paths to publish, CAR files, outputs)
  return 0
}
complete -o default -F _shoal_completion shoal
`
}

function zsh (bashScript: string): string {
  return `# shoal completion for zsh: add to ~/.zshrc
#   source <(shoal completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashScript.split('\n').filter(l => !l.startsWith('#')).join('\n')}`
}

function fish (nodes: Node[], globals: Node['options']): string {
  const quote = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
  const lines = ['# shoal completion for fish: save as ~/.config/fish/completions/shoal.fish', '#   shoal completion fish > ~/.config/fish/completions/shoal.fish', 'complete -c shoal -f']
  const option = (o: Node['options'][number], condition: string): string => {
    const long = o.flags.find(f => f.startsWith('--'))?.slice(2)
    const short = o.flags.find(f => !f.startsWith('--'))?.slice(1)
    return `complete -c shoal${condition !== '' ? ` -n ${quote(condition)}` : ''}${long != null ? ` -l ${long}` : ''}${short != null ? ` -s ${short}` : ''}${o.takesValue ? ' -r -F' : ''} -d ${quote(o.description)}`
  }
  for (const o of globals) lines.push(option(o, ''))
  for (const n of nodes) {
    // the words typed so far lead to this command, and none of its subcommands is typed yet
    const seen = n.path.map(w => `__fish_seen_subcommand_from ${w}`)
    const noSub = n.subcommands.length > 0 ? [`not __fish_seen_subcommand_from ${n.subcommands.map(s => s.name).join(' ')}`] : []
    const condition = n.path.length === 0 ? ['__fish_use_subcommand'] : [...seen, ...noSub]
    for (const s of n.subcommands) lines.push(`complete -c shoal -n ${quote(condition.join('; and '))} -a ${s.name} -d ${quote(s.description)}`)
    if (n.path.length > 0) {
      for (const o of n.options) lines.push(option(o, [...seen].join('; and ')))
    }
  }
  // arguments that are paths (publish, import, -o): file names
  lines.push(`complete -c shoal -n ${quote('__fish_seen_subcommand_from publish import')} -F`)
  return lines.join('\n') + '\n'
}
