/**
 * The contract between shoal's rooms: `ShoalApi` (the calls a peer answers, with their types), the
 * table of calls it follows from (each call's path, what it needs of the repo, its arguments and
 * their checks, how its reply travels), and the checks a peer in this process makes before a
 * call runs. The peer implements it, the control API serves it and the CLI calls it; it sits
 * below all three.
 */
export type * from './types.js'
export { calls, callList, checkArgs, accessOf } from './calls.js'
export type { Call, CallName, Reply, RepoAccess } from './calls.js'
export { localApi } from './local.js'
export type { LocalApiInit } from './local.js'
