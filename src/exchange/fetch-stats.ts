import { contentSize } from './dag-order.js'
import type { ChannelProtocol } from './channel.js'
import type { FetchProgressEvent, FetchResult } from './index.js'
import type { CID } from 'multiformats/cid'

/**
 * A fetch session's counters, and the progress events and result made from them: blocks and
 * bytes of the DAG seen so far, those that came from the network, duplicates, and the DAG's
 * content size once its root is known.
 */
export class FetchStats {
  blocks = 0
  bytes = 0
  fetchedBlocks = 0
  fetchedBytes = 0
  duplicates = 0
  /** Bytes fetched over each protocol */
  readonly fetchedBytesBy: Record<ChannelProtocol, number> = { shoal: 0, bitswap: 0, http: 0 }
  /** The content size the root declares, for the ETA; undefined until the root is read */
  totalBytes?: number
  private readonly root: CID
  private started = Date.now()

  constructor (root: CID) {
    this.root = root
  }

  /** Time the fetch from now */
  start (): void {
    this.started = Date.now()
  }

  /** A block of the DAG is in the store: `over` names the protocol it came by from the network */
  add (size: number, over?: ChannelProtocol): void {
    this.blocks++
    this.bytes += size
    if (over != null) {
      this.fetchedBlocks++
      this.fetchedBytes += size
      this.fetchedBytesBy[over] += size
    }
  }

  /** A block's bytes were read: the root's give the content size */
  noteBlock (cid: CID, bytes: Uint8Array): void {
    if (this.totalBytes == null && cid.equals(this.root)) this.totalBytes = contentSize(cid, bytes)
  }

  /** A raw root (no links): its size is the content size */
  noteRawBlock (cid: CID, size: number): void {
    if (cid.equals(this.root)) this.totalBytes ??= size
  }

  blockEvent (peers: number): FetchProgressEvent {
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001)
    const rate = this.fetchedBytes / seconds
    const total = this.totalBytes
    return {
      type: 'fetch:block',
      blocks: this.blocks,
      bytes: this.bytes,
      fetchedBytes: this.fetchedBytes,
      totalBytes: total,
      peers,
      rate,
      eta: total != null && rate > 0 ? Math.max(0, (total - this.bytes) / rate) : undefined
    }
  }

  doneEvent (): FetchProgressEvent {
    return { type: 'fetch:done', blocks: this.blocks, bytes: this.bytes, fetchedBytes: this.fetchedBytes }
  }

  result (): FetchResult {
    return {
      cid: this.root.toString(),
      blocks: this.blocks,
      bytes: this.bytes,
      fetchedBlocks: this.fetchedBlocks,
      fetchedBytes: this.fetchedBytes,
      fetchedBytesBy: { ...this.fetchedBytesBy },
      duplicates: this.duplicates,
      durationMs: Date.now() - this.started
    }
  }
}
