import { ConnectFailedError, InvalidArgumentError } from '../../errors.js'
import { isBadInput } from '../../http-status.js'
import { withApi } from '../context.js'
import { printResult } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .action(withApi('connect', ['connect', 'id'], async (api, globals, [addr = '']) => {
      const id = await peerIdOf(addr)
      if (id != null && id === (await api.id()).peerId) {
        throw new ConnectFailedError(`could not connect to ${addr}: that is this peer's own address`)
      }
      const started = Date.now()
      let peer
      try {
        peer = await api.connect(addr)
      } catch (err) {
        throw connectError(err, addr, Date.now() - started)
      }
      printResult(globals, `connected to ${peer.peerId} via ${peer.addresses.join(' ')}`, peer)
    }))
}

/**
 * The peer id in a multiaddr's /p2p/ part; a part that is no peer id is bad input, said here
 * rather than failing inside the dial. An unparsable multiaddr is left to the daemon to report.
 */
async function peerIdOf (addr: string): Promise<string | undefined> {
  const { multiaddr } = await import('@multiformats/multiaddr')
  const { peerIdFromString } = await import('@libp2p/peer-id')
  let id: string | undefined
  try {
    id = multiaddr(addr).getComponents().find(c => c.name === 'p2p')?.value
  } catch {
    return undefined
  }
  if (id == null) return undefined
  try {
    return peerIdFromString(id).toString()
  } catch {
    throw new InvalidArgumentError(`invalid peer id "${id}" in ${addr}: the part after /p2p/ is a peer id such as 12D3KooW...`)
  }
}

/**
 * One line for a failed dial. libp2p reports a timeout during the handshake, a peer with another
 * identity and a listener that does not speak libp2p under one error name, so the message is
 * what tells them apart. Bad input passes through unchanged.
 */
function connectError (err: any, addr: string, elapsedMs: number): unknown {
  if (isBadInput(err) || err?.name === 'DaemonNotRunningError' || err?.name === 'ApiUnreachableError') return err
  const message = String(err?.message ?? err).split('\n')[0]
  const prefix = `could not connect to ${addr}`
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError' || /aborted due to timeout|timed out/i.test(message)) {
    return new ConnectFailedError(`${prefix}: timed out after ${Math.max(1, Math.round(elapsedMs / 1000))} s; is the peer up and reachable at that address, and in the same swarm (a private swarm's peers need the same swarm key)?`)
  }
  const other = /Payload identity key (\S+) does not match/.exec(message)?.[1]
  if (other != null) {
    return new ConnectFailedError(`${prefix}: the peer at that address has a different peer id (${other}); put that id after /p2p/ if it is the peer you mean`)
  }
  if (err?.name === 'EncryptionFailedError') {
    return new ConnectFailedError(`${prefix}: the handshake failed (${message}); is a shoal peer of the same swarm (and swarm key) listening there?`)
  }
  if (/ECONNREFUSED/.test(message)) return new ConnectFailedError(`${prefix}: connection refused; is the peer running and listening on that port?`)
  if (/ECONNRESET/.test(message)) return new ConnectFailedError(`${prefix}: the peer closed the connection during the handshake; is it a shoal peer of the same swarm (a private swarm's peers need the same swarm key)?`)
  return new ConnectFailedError(`${prefix}: ${message}`)
}
