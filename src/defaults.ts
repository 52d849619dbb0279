/**
 * The defaults of what a user may configure are configs/default.json, the config a new repo
 * starts from. A component option that a config sets takes its default from here, so each such
 * default is written once, in that file. (Fixed limits and timings are constants.ts.)
 */
import { readFileSync } from 'node:fs'
import type { Config } from './peer/config.js'

function frozen<T> (value: T): T {
  if (value != null && typeof value === 'object') {
    for (const v of Object.values(value)) frozen(v)
    Object.freeze(value)
  }
  return value
}

/** configs/default.json, parsed once and read-only */
export const CONFIG_DEFAULTS: Readonly<Config> = frozen(JSON.parse(readFileSync(new URL('../../configs/default.json', import.meta.url), 'utf8')))
