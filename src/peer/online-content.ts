/**
 * The content commands of an online peer: publish, which also provides and announces what it
 * stored, and fetch, which draws a DAG from the swarm into the store and pins it. The rest of the
 * content commands work on the store alone (content-commands.ts).
 */
import { CID } from 'multiformats/cid'
import { PROVIDE_TIMEOUT } from '../constants.js'
import { InvalidArgumentError } from '../errors.js'
import { dagSize, importAndPin, parseCid, readablePin } from './content-commands.js'
import type { Config } from './config.js'
import type { ShoalNode } from './node.js'
import type { FetchOptions, ImportEntry, PublishOptions, PublishResult } from '../interface/types.js'
import type { FetchResult, FetchOptions as ExchangeFetchOptions } from '../exchange/index.js'
import type { PinOrigin, Store } from '../store/index.js'

/** What fetching into the store uses */
export interface FetchParts {
  store: Pick<Store, 'blocks' | 'pins' | 'pin' | 'withWriteGuard'>
  node: Pick<ShoalNode, 'session' | 'routing' | 'quota' | 'log'>
}

export interface OnlineContentComponents extends FetchParts {
  config: Pick<Config, 'publish'>
  node: FetchParts['node'] & Pick<ShoalNode, 'gossip' | 'collector'>
}

export class OnlineContent {
  private readonly components: OnlineContentComponents

  constructor (components: OnlineContentComponents) {
    this.components = components
  }

  async publish (entries: AsyncIterable<ImportEntry>, options: PublishOptions = {}): Promise<PublishResult> {
    const { store, config, node } = this.components
    // tags and replicas are checked with the other arguments (interface/calls.ts)
    const replicas = options.replicas ?? 0
    if (replicas > 0 && options.announce === false) {
      throw new InvalidArgumentError('replicas are asked for by announcing: do not pass --no-announce')
    }
    const result = await importAndPin({ store, config }, entries, options)
    // the file's bytes came through the API's buffers: a large publish is a bulk transfer
    node.collector.ended(result.size)
    provideLater(node, CID.parse(result.cid))
    if (options.announce !== false) {
      const sent = await node.gossip.announce({ cid: result.cid, name: announceName(result.name, result.cid), size: result.size, tags: options.tags ?? [], replicas })
      result.announced = sent.recipients
      if (sent.assigned != null) result.assigned = await sent.assigned
    }
    return result
  }

  /** `ShoalApi.fetch` */
  async fetch (cid: string, options: FetchOptions = {}): Promise<FetchResult> {
    return fetchAndPin(this.components, cid, options, 'fetch')
  }
}

/**
 * Fetch a DAG into the store and pin it with `origin` (a root already pinned keeps its own), then
 * provide it in the background: a peer that has fetched content serves it, so it says so
 */
export async function fetchAndPin (parts: FetchParts, cid: string, options: FetchOptions & Pick<ExchangeFetchOptions, 'maxBytes'> & { onWhole?: () => void }, origin: PinOrigin): Promise<FetchResult> {
  const { store, node } = parts
  const root = parseCid(cid)
  const began = Date.now()
  const result = await store.withWriteGuard(async () => {
    const guarded = Date.now()
    const session = node.session(root, { from: options.from, signal: options.signal, onProgress: options.onProgress, maxBytes: options.maxBytes })
    const result = await session.result
    const fetched = Date.now()
    // every block is stored: a follower serves the version from here; the guard keeps gc and
    // eviction off it until the pin is written
    options.onWhole?.()
    const size = await dagSize(store.blocks, root, options)
    // an unreadable record of this root is written anew, as a pin of the user's own: what it
    // was is unknown, and a replica's pin could be dropped by the replication policy
    const existing = await readablePin(store, root)
    const unreadable = existing == null && await store.pins.has(root)
    await store.pin(root, { name: options.name ?? existing?.name ?? root.toString(), size, origin: existing?.origin ?? (unreadable && (origin === 'replica' || origin === 'follow') ? 'fetch' : origin) }, options)
    node.log.trace?.('%s: guard %d ms, fetch %d ms, size and pin %d ms', root, guarded - began, fetched - guarded, Date.now() - fetched)
    return result
  })
  provideLater(node, root)
  node.quota.enforceSoon()
  return result
}

/** Provide a root in the background; the DHT's reprovider keeps it fresh afterwards */
function provideLater (node: Pick<ShoalNode, 'routing' | 'log'>, cid: CID): void {
  void node.routing.provide(cid, { signal: AbortSignal.timeout(PROVIDE_TIMEOUT) }).then(
    ({ accepted }) => { node.log('provided %s to %d peers', cid, accepted) },
    (err) => { node.log('could not provide %s: %s', cid, err.message) }
  )
}

/** Announced names are single path segments */
function announceName (name: string, cid: string): string {
  const base = name.split('/').filter(Boolean).pop() ?? ''
  return base === '' ? cid : base.slice(0, 255)
}
