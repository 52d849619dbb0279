/**
 * `ShoalApi` in process: each call's arguments are checked as its row of the table says (the
 * same checks the daemon's routes make, so a bad argument is the same error either way), then the
 * call goes to the room that implements it.
 */
import { callList, checkArgs } from './calls.js'
import type { ShoalApi } from './types.js'

/**
 * The API over `rooms`, objects whose methods are named after calls; each call goes to the first
 * room that has its method. A call no room implements is an error here, not when it is made.
 */
export function localApi (rooms: Array<Partial<ShoalApi>>): ShoalApi {
  const api: Record<string, (...args: any[]) => unknown> = {}
  for (const [name, c] of callList()) {
    const room = rooms.find(r => typeof r[name] === 'function') as Record<string, (...args: any[]) => any> | undefined
    if (room == null) throw new Error(`no room implements the API call ${name}`)
    const hasArg = c.arg != null || c.body != null
    const run = (arg: unknown, options: Record<string, unknown> = {}): any => {
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
