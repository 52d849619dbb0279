/**
 * The composition root: a peer made from its repo (identity, config, store, lock) and, when
 * online, its libp2p host.
 */
import { acquireLock, loadConfig, loadKey, resolveRepo } from './repo.js'
import { ShoalPeer } from './peer.js'
import type { Config } from './config.js'

export { resolveRepo, initRepo, repoPaths, isInitialized, lockHolder, loadConfig } from './repo.js'
export type { RepoPaths } from './repo.js'
export { parseConfig, validateConfig, parseHostPort, isLoopback, swarmConfigText, CONFIGS_DIR } from './config.js'
export type { Config } from './config.js'
export type { ShoalPeer } from './peer.js'

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
}

/**
 * Open a repo as a peer: takes the repo lock (so no other process writes it), loads and checks
 * the config and identity. Call `start()` before use and `stop()` after, which releases the lock.
 */
export async function createPeer (init: PeerInit = {}): Promise<ShoalPeer> {
  const root = resolveRepo(init.repo)
  let config = await loadConfig(root)
  const privateKey = await loadKey(root)
  if (init.override != null) config = init.override(config)
  const lock = await acquireLock(root)
  return new ShoalPeer({ root, config, privateKey, lock, online: init.online === true })
}
