import module from 'node:module'

// node:fs imported as an ES module builds a facade of all its exports, which costs every command
// (even --version) more than reading the file: a require takes the module as it is
const { readFileSync }: typeof import('node:fs') = module.createRequire(import.meta.url)('node:fs')

/** shoal's version, from package.json */
export const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version

/** Sent to other peers in identify */
export const AGENT_VERSION = `shoal/${VERSION}`
