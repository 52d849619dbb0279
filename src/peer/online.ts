import { DaemonNotRunningError } from '../errors.js'

/**
 * A part of the peer that exists only while it is online (host, exchange, routing, gossip); while
 * it is offline, a DaemonNotRunningError that names the repo and the command (`what`) needing it
 */
export function online<T> (part: T | undefined, root: string, what: string): T {
  if (part == null) throw new DaemonNotRunningError(root, what)
  return part
}
