/**
 * The commands of the CLI, as a table: each command's words, description and module. A command
 * line loads the module of the command it names and nothing else, and the top-level help is
 * written from this table without loading any of them (nor the command-line parser).
 */
import type { Command } from 'commander'

export interface CommandModule {
  /** Adds the command's options, subcommands and action to its `Command` */
  register: (command: Command) => void
}

export interface CommandEntry {
  /** The command and its arguments, as the parser takes them: `cat <path>` */
  usage: string
  description: string
  /** Whether it takes options of its own (the help shows `[options]`) */
  options: boolean
  load: () => Promise<CommandModule>
}

/** The commands in the order the help lists them */
export const COMMANDS: readonly CommandEntry[] = [
  { usage: 'init', options: true, description: 'create a repo: an Ed25519 identity and config.json (from configs/default.json)', load: async () => import('./init.js') },
  { usage: 'start', options: true, description: 'run the peer in the foreground until SIGINT or SIGTERM', load: async () => import('./start.js') },
  { usage: 'id', options: false, description: 'show this peer\'s id and the addresses others can dial', load: async () => import('./id.js') },
  { usage: 'publish <path>', options: true, description: 'import a file or directory tree into the store as a UnixFS DAG and pin it ("-" reads stdin)', load: async () => import('./publish.js') },
  { usage: 'fetch <cid>', options: true, description: 'fetch a DAG from peers into the store, verifying every block, and pin it (needs a running daemon)', load: async () => import('./fetch.js') },
  { usage: 'cat <path>', options: true, description: 'write a file (CID or CID/path) to stdout', load: async () => import('./cat.js') },
  { usage: 'get <path>', options: true, description: 'restore a file or directory tree (CID or CID/path) to disk', load: async () => import('./get.js') },
  { usage: 'ls [path]', options: false, description: 'list pinned roots with name and size, or the entries of a directory (CID or CID/path)', load: async () => import('./ls.js') },
  { usage: 'pin', options: false, description: 'keep DAGs from gc: add, rm, ls', load: async () => import('./pin.js') },
  { usage: 'gc', options: false, description: 'remove every block no pin needs', load: async () => import('./gc.js') },
  { usage: 'verify', options: true, description: 're-hash every block and report those that no longer match their CID', load: async () => import('./verify.js') },
  { usage: 'peers', options: false, description: 'show the swarm\'s membership table (who is alive and how loaded) and the connected peers (needs a running daemon)', load: async () => import('./peers.js') },
  { usage: 'connect <multiaddr>', options: false, description: 'dial a peer by multiaddr ending in /p2p/<peer id> (needs a running daemon)', load: async () => import('./connect.js') },
  { usage: 'find <cid>', options: true, description: 'list the providers of a CID in the DHT (needs a running daemon)', load: async () => import('./find.js') },
  { usage: 'provide <cid>', options: false, description: 'provide a CID stored here in the DHT now, and report how many DHT peers took the record (needs a running daemon)', load: async () => import('./provide.js') },
  { usage: 'status <cid>', options: true, description: 'who holds a CID: DHT providers and holders heard of on gossip, with their membership state (needs a running daemon)', load: async () => import('./status.js') },
  { usage: 'watch', options: true, description: 'print announcements from the swarm as they arrive, until interrupted (needs a running daemon); with --json one JSON object per line', load: async () => import('./watch.js') },
  { usage: 'key', options: false, description: 'keys that sign names: gen, ls, rm, export, import ("self" is the peer\'s own)', load: async () => import('./key.js') },
  { usage: 'name', options: false, description: 'signed mutable names (IPNS): publish, resolve', load: async () => import('./name.js') },
  { usage: 'follow [name]', options: false, description: 'fetch and pin each new version of a name as it is published (needs a running daemon to fetch); without a name, list the names followed', load: async () => import('./follow.js') },
  { usage: 'unfollow <name>', options: false, description: 'stop following a name, and unpin the versions kept of it', load: async () => import('./unfollow.js') },
  { usage: 'swarm', options: false, description: 'private swarms', load: async () => import('./swarm.js') },
  { usage: 'stats', options: false, description: 'store and network figures', load: async () => import('./stats.js') },
  { usage: 'perf <multiaddr>', options: true, description: 'measure raw stream throughput from a peer that has exchange.perf on (needs a running daemon)', load: async () => import('./perf.js') },
  { usage: 'export <path>', options: true, description: 'write the DAG of a CID (or CID/path) as a CAR file, to stdout or -o FILE', load: async () => import('./export.js') },
  { usage: 'import <file>', options: true, description: 'store the blocks of a CAR file ("-" reads stdin), each verified against its CID, and pin its roots', load: async () => import('./import.js') },
  { usage: 'testnet', options: true, description: 'start a local swarm of N daemons on loopback, publish a sample file on one and fetch it on another; Ctrl-C tears it down', load: async () => import('./testnet.js') },
  { usage: 'completion <shell>', options: false, description: 'print a completion script for bash, zsh, fish (see the README for where it goes)', load: async () => import('./completion.js') }
]

/** A command's name: the first word of its usage */
export function nameOf (entry: CommandEntry): string {
  return entry.usage.split(' ')[0]
}

/** The entry of the command named `name`, if there is one */
export function commandNamed (name: string): CommandEntry | undefined {
  return COMMANDS.find(c => nameOf(c) === name)
}
