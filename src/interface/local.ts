/**
 * `ShoalApi` in process: each call's arguments are checked as its row of the table says (the
 * same checks the daemon's routes make, so a bad argument is the same error either way), then the
 * call goes to the room that implements it.
 */
import { DaemonNotRunningError, RepoReadOnlyError } from '../errors.js'
import { callList, checkArgs } from './calls.js'
import type { ShoalApi } from './types.js'

export interface LocalApiInit {
  /** The repo directory, named when a call is refused */
  repo: string
  /** The repo is open for reading only: calls whose access is `write` are refused */
  readOnly?: boolean
  /** The peer runs without its host: calls whose access is `daemon` are refused */
  offline?: boolean
}

/**
 * The API over `rooms`, objects whose methods are named after calls; each call goes to the first
 * room that has its method. A call no room implements is an error here, not when it is made. A
 * call the peer cannot make as it was opened (its row's `access`) is refused before it starts.
 */
export function localApi (rooms: Array<Partial<ShoalApi>>, init: LocalApiInit): ShoalApi {
  const api: Record<string, (...args: any[]) => unknown> = {}
  for (const [name, c] of callList()) {
    const hasArg = c.arg != null || c.body != null
    const what = c.title ?? name
    // an offline peer has no room for the calls that need its daemon: they are refused here
    const refused = c.access === 'daemon' && init.offline === true
    const room = rooms.find(r => typeof r[name] === 'function') as Record<string, (...args: any[]) => any> | undefined
    if (room == null && !refused) throw new Error(`no room implements the API call ${name}`)
    const run = (arg: unknown, options: Record<string, unknown> = {}): any => {
      if (c.access === 'write' && init.readOnly === true) throw new RepoReadOnlyError(init.repo, what)
      if (refused || room == null) throw new DaemonNotRunningError(init.repo, what)
      const checked = checkArgs(c, arg, options)
      return hasArg ? room[name](checked.arg, checked.options) : room[name](checked.options)
    }
    const stream = c.reply === 'bytes' || c.reply === 'entries' || c.reply === 'lines'
    // a bad argument surfaces where the call's result does: the first read of a stream, or the promise
    const call = stream
      ? async function * (arg: unknown, options?: Record<string, unknown>) { yield * run(arg, options) }
      : async (arg: unknown, options?: Record<string, unknown>) => run(arg, options)
    api[name] = hasArg ? call : (options?: Record<string, unknown>) => call(undefined, options)
  }
  return api as ShoalApi
}
