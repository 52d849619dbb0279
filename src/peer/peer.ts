/**
 * A shoal peer: its repo's store and, when online, its node (node.ts). The peer is `ShoalApi` in
 * process: each call is checked as the table of calls (interface/calls.ts) says and made by the room
 * that implements it. An offline peer's rooms work on the store; an online peer's rooms put the
 * node's commands first (online-content.ts, network-commands.ts) and read through it.
 */
import { localApi } from '../interface/local.js'
import { DaemonNotRunningError } from '../errors.js'
import { createStore } from '../store/index.js'
import { ContentCommands, storeOnly } from './content-commands.js'
import { NameCommands } from './name-commands.js'
import { offlineSelf } from './self-commands.js'
import { repoPaths } from './paths.js'
import type { Config } from './config.js'
import type { RepoLock } from './repo.js'
import type { ShoalNode } from './node.js'
import type { ShoalApi } from '../interface/types.js'
import type { Names } from '../naming/index.js'
import type { Store } from '../store/index.js'
import type { PrivateKey, PeerId } from '@libp2p/interface'

export interface Identity {
  privateKey: PrivateKey
  peerId: PeerId
}

/** A peer, open and started; `stop()` closes it and releases the repo */
export interface ShoalPeer extends ShoalApi {
  /** The repo directory */
  readonly root: string
  readonly config: Config
  readonly store: Store
  stop(): Promise<void>
}

/** A peer running its node */
export interface OnlinePeer extends ShoalPeer {
  readonly node: ShoalNode
  readonly peerId: PeerId
}

export interface OpenPeerComponents {
  root: string
  config: Config
  lock: RepoLock
  /**
   * The peer's key and id, read once when first needed: a peer going online needs them at once,
   * an offline one only to say who it is
   */
  identity(): Promise<Identity>
}

export interface OpenPeerInit {
  online: boolean
  /** Opened for reading only, without the lock: the store is opened as it is */
  readOnly: boolean
  /** Serve the HTTP gateway when the config enables it */
  gateway: boolean
}

/**
 * Open the store and, online, start the node. Start order: store, then node; stop order: node,
 * store, repo lock. What has been opened is closed again when a later step fails.
 */
export async function openPeer (components: OpenPeerComponents, init: OpenPeerInit): Promise<ShoalPeer> {
  const { root, config, lock } = components
  const store = createStore(repoPaths(root).store, { fsync: config.store.fsync })
  let node: ShoalNode | undefined
  // keys and records work offline, loaded by the commands that use them (an offline peer loads
  // nothing it does not need); the node starts following names and their gossip online
  let names: Promise<Names> | undefined
  const loadNames = async (): Promise<Names> => {
    names ??= import('../naming/index.js').then(({ createNames }) => createNames({
        root,
        self: async () => (await components.identity()).privateKey,
        fetch: async (cid, name, hints) => {
          if (node == null) throw new DaemonNotRunningError(root, 'following names')
          const { fetchAndPin } = await import('./online-content.js')
          // the record's publisher, when connected, joins the fetch without a have round trip
          // first; one that is not is left to the DHT (a dial to it could hold the search up)
          const live = node
          const from = (hints?.peers ?? []).filter(p => live.host.getConnections().some(c => c.remotePeer.toString() === p && c.limits == null)).map(p => `/p2p/${p}`)
          return await fetchAndPin({ store, node }, cid, { name, ...(from.length > 0 ? { from } : {}), ...(hints?.onWhole != null ? { onWhole: hints.onWhole } : {}) }, 'follow')
        },
        pins: store.pins,
        unpin: async (cid) => { await store.unpin(cid) },
        log: () => node?.log
      }, { ...config.names, follow: config.replicate.follow, keepVersions: config.replicate.keepVersions, fsync: config.store.fsync }))
    return names
  }
  try {
    await store.open({ readOnly: init.readOnly })
    if (init.online) {
      // libp2p is loaded only when a peer goes online: offline commands start faster and smaller
      const { startNode } = await import('./node.js')
      node = await startNode({ root, config, identity: await components.identity(), store, names: await loadNames() }, { gateway: init.gateway })
    }
  } catch (err) {
    await store.close().catch(() => {})
    await lock.release()
    throw err
  }
  const started = node
  const stop = async (): Promise<void> => {
    try {
      await started?.stop()
    } finally {
      await store.close()
      await lock.release()
    }
  }
  if (started == null) {
    const rooms = [
      new ContentCommands({ store, config, readable: storeOnly(store) }),
      offlineSelf({ identity: components.identity, store, startedAt: Date.now() }),
      new NameCommands({ names: loadNames })
    ]
    return Object.assign(localApi(rooms, { repo: root, readOnly: init.readOnly, offline: true }), { root, config, store, stop })
  }
  const { PullThrough } = await import('../content/pull-through.js')
  const { OnlineContent } = await import('./online-content.js')
  const { NetworkCommands } = await import('./network-commands.js')
  const rooms = [
    new OnlineContent({ store, config, node: started }),
    new NetworkCommands({ store, node: started }),
    new NameCommands({ names: loadNames }),
    new ContentCommands({
      store,
      config,
      // missing blocks come through a fetch session the reader waits on; with a quota, what is
      // read is what is used, so least recently used cache goes first
      readable: (root, options) => {
        const reader = new PullThrough({
          blocks: store.blocks,
          exchange: { fetch: started.session },
          withWriteGuard: async (fn) => store.withWriteGuard(fn)
        }, {
          root,
          mode: 'dag',
          signal: options.signal,
          touch: config.store.quota > 0,
          onFetched: () => { started.quota.enforceSoon() }
        })
        return { blocks: reader.blockstore, close: () => { reader.close() } }
      }
    })
  ]
  const peer: OnlinePeer = Object.assign(localApi(rooms, { repo: root }), { root, config, store, stop, node: started, peerId: started.peerId })
  return peer
}
