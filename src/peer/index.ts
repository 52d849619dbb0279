/**
 * The composition root: a peer made from its repo (identity, config, store, lock) and, when
 * online, its node (node.ts: the libp2p host and everything that runs on it).
 */
import { checkAddresses } from './config.js'
import { repoPaths } from './paths.js'
import { acquireLock, loadConfig, loadKey, resolveRepo } from './repo.js'
import { openPeer } from './peer.js'
import type { Config } from './config.js'
import type { Identity, OnlinePeer, ShoalPeer } from './peer.js'

export { resolveRepo, initRepo, repoPaths, isInitialized, lockHolder, lockOwner, loadConfig } from './repo.js'
export type { RepoPaths } from './repo.js'
export { parseConfig, swarmConfigText, CONFIGS_DIR } from './config.js'
export { validateConfig, parseHostPort, isLoopback } from './config-checks.js'
export type { Config } from './config.js'
export type { ShoalPeer, OnlinePeer } from './peer.js'
export type { ShoalNode } from './node.js'

export interface PeerInit {
  /**
   * The repo directory
   * @default $SHOAL_REPO, else ~/.shoal
   */
  repo?: string
  /**
   * Start the libp2p host; offline peers work on the store alone
   * @default false
   */
  online?: boolean
  /** Changes to the repo's config for this run only (command-line overrides) */
  override?(config: Config): Config
  /**
   * Open an offline peer for reading only: no lock is taken, so a daemon starting or a command
   * writing meanwhile is never held up; nothing in the repo is changed (no config written back,
   * no leftovers of a crash cleared). Only the reading commands may be called.
   * @default false
   */
  readOnly?: boolean
  /**
   * Serve the HTTP gateway when the config enables it, as a daemon does
   * @default false
   */
  gateway?: boolean
}

/**
 * How long a starting daemon waits for a command holding the repo's lock (an offline `publish`,
 * `gc`, `pin`) to finish before it gives up
 */
const DAEMON_LOCK_WAIT_MS = 5000

/**
 * Open a repo as a peer and start it: takes the repo lock (so no other process writes it; a
 * daemon waits a few seconds for a command that holds it), loads and checks the config and
 * identity, opens the store and, online, starts the node. Call `stop()` after, which releases the
 * lock.
 */
export async function createPeer (init: PeerInit & { online: true }): Promise<OnlinePeer>
export async function createPeer (init?: PeerInit): Promise<ShoalPeer>
export async function createPeer (init: PeerInit = {}): Promise<ShoalPeer> {
  const root = resolveRepo(init.repo)
  const online = init.online === true
  const readOnly = !online && init.readOnly === true
  let config = await loadConfig(root, { save: !readOnly })
  if (init.override != null) config = init.override(config)
  if (online) await checkAddresses(config, repoPaths(root).config)
  const lock = readOnly
    ? { release: async () => {} }
    : await acquireLock(root, online ? { role: 'daemon', waitMs: DAEMON_LOCK_WAIT_MS } : { role: 'command' })
  let identity: Promise<Identity> | undefined
  // the key is read (and its code loaded) once, when first needed: offline reads never need it
  const loadIdentity = async (): Promise<Identity> => {
    identity ??= (async () => {
      const privateKey = await loadKey(root)
      const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
      return { privateKey, peerId: peerIdFromPrivateKey(privateKey) }
    })()
    return identity
  }
  try {
    // a daemon needs its key: one that cannot be read stops it before anything starts
    if (online) await loadIdentity()
  } catch (err) {
    await lock.release()
    throw err
  }
  return openPeer({ root, config, identity: loadIdentity, lock }, { online, readOnly, gateway: init.gateway === true })
}
