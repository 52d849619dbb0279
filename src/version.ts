import { readFileSync } from 'node:fs'

/** shoal's version, from package.json */
export const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version

/** Sent to other peers in identify */
export const AGENT_VERSION = `shoal/${VERSION}`
