import * as dagPb from '@ipld/dag-pb'
import { identity } from 'multiformats/hashes/identity'
import { BlockNotFoundError, InvalidBlockError, StoreWriteError } from '../errors.js'
import { No } from './message.js'
import { MAX_PENDING_WRITES, MAX_WINDOW } from '../constants.js'
import { DownloadGate } from './download-gate.js'
import { rankPeers } from './rank.js'
import { Lacks } from './lacks.js'
import { PeerWait } from './peer-wait.js'
import { BlockWaiters } from './waiters.js'
import { FetchStats } from './fetch-stats.js'
import { copyBlock } from './response-reader.js'
import { WorkQueue } from './work-queue.js'
import { walkStored } from './stored-walk.js'
import { BlockIntake } from './intake.js'
import type { StoredBlock } from './stored-walk.js'
import { linksOf, mhKey } from '../store/index.js'
import { BUSY_PAUSE } from './channel.js'
import type { BlockChannel, ChannelProtocol } from './channel.js'
import type { Job } from './work-queue.js'
import type { BlockBytes } from './response-reader.js'
import type { ExchangeBlocks, FetchProgressEvent, FetchResult } from './index.js'
import type { RateLimiter } from './rate.js'
import type { Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export interface SessionInit {
  root: CID
  blocks: ExchangeBlocks
  log: Logger
  /** The daemon's download cap, shared by its sessions */
  download: RateLimiter
  /** Peers that sent a bad block are reported here, to keep them out for a while */
  ban(peerId: string): void
  signal?: AbortSignal
  onProgress?(event: FetchProgressEvent): void
  /** A block from a peer was verified and stored (not a copy that arrived twice) */
  onStored?(protocol: ChannelProtocol, bytes: number): void
  /** false: the root block alone, not the DAG under it */
  walk?: boolean
}

/**
 * One fetch of one DAG from many peers. Work is a queue of missing blocks in DAG order; each
 * peer takes from it as its window allows, so faster peers take more. At the end, idle peers
 * duplicate blocks still in flight elsewhere (end-game) and the losers are cancelled.
 */
export class FetchSession {
  private readonly init: SessionInit
  private readonly peers = new Map<string, BlockChannel>()
  private readonly lacks = new Lacks()
  private readonly work = new WorkQueue()
  private readonly done = new Set<string>()
  private readonly waiters = new BlockWaiters()
  private readonly gate: DownloadGate
  private pendingLocal = 0
  /** Bytes received and not yet stored */
  private pendingWrites = 0
  private readonly intake: BlockIntake
  /** Stored blocks being walked into (not asked for) */
  private readonly walking = new Set<string>()
  private finished = false
  private error?: Error
  private resolveDone!: (r: FetchResult) => void
  private rejectDone!: (err: Error) => void
  /** Settles when every block of the DAG is in the store */
  readonly result: Promise<FetchResult>
  private readonly stats: FetchStats
  /** When the session may give up for want of peers */
  private readonly peerWait = new PeerWait(() => { this.check() })

  constructor (init: SessionInit) {
    this.init = init
    this.gate = new DownloadGate(init.download, () => { this.schedule() })
    this.intake = new BlockIntake(init)
    this.stats = new FetchStats(init.root)
    this.result = new Promise((resolve, reject) => { this.resolveDone = resolve; this.rejectDone = reject })
    this.result.catch(() => {})
    init.signal?.addEventListener('abort', () => { this.fail(init.signal?.reason ?? new Error('aborted')) }, { once: true })
  }

  /** Begin: walk what is already stored, queue what is missing */
  async start (): Promise<void> {
    this.stats.start()
    await this.enqueue([{ cid: this.init.root, order: [] }])
    this.check()
  }

  /** A peer that has (some of) the DAG joins the session */
  addPeer (channel: BlockChannel): void {
    if (this.finished || this.peers.has(channel.peerId)) {
      channel.close()
      return
    }
    this.peers.set(channel.peerId, channel)
    this.peerWait.joined()
    channel.onClose((err) => { this.removePeer(channel, err) })
    this.init.onProgress?.({ type: 'fetch:peer', peerId: channel.peerId, protocol: channel.protocol, joined: true, peers: this.peers.size })
    this.schedule()
  }

  /** No more peers will join (all known providers were asked) */
  providersDone (): void {
    this.peerWait.providersDone()
  }

  /**
   * A peer named later (by a caller that joined the session) is being added: the session does
   * not give up for want of peers until the returned function is called
   */
  expectPeer (): () => void {
    return this.peerWait.expect()
  }

  /** A peer that has it could not join: why (the session's error if no peer can serve) */
  unreachable (peerId: string, reason: string): void {
    this.peerWait.unreachable(peerId, reason)
  }

  /** The DAG's root */
  get root (): CID {
    return this.init.root
  }

  get peerCount (): number {
    return this.peers.size
  }

  /** Whether this peer serves in the session now */
  hasPeer (peerId: string): boolean {
    return this.peers.has(peerId)
  }

  /** Whether the session still runs (neither done nor failed) */
  get running (): boolean {
    return !this.finished && this.error == null
  }

  /** Resolves when the block is in the store; rejects if the session fails first */
  async blockReady (cid: CID): Promise<void> {
    const key = mhKey(cid)
    if (this.done.has(key) || await this.init.blocks.has(cid)) return
    // asked again after the store: the block may have been stored (and its waiters woken) since
    if (this.done.has(key)) return
    if (this.error != null) throw this.error
    if (this.finished) throw new BlockNotFoundError(`block ${cid} is not part of the DAG under ${this.init.root}`)
    await this.waiters.wait(key)
  }

  private async enqueue (items: Array<{ cid: CID, order: number[] }>): Promise<void> {
    this.pendingLocal++
    try {
      // a node's first links are queued, and asked for, while the store is checked for the rest:
      // a thousand checks took ~50 ms before the first request of a 1 GiB file
      await this.enqueueChecked(items.slice(0, MAX_WINDOW))
      if (items.length > MAX_WINDOW) {
        this.schedule()
        await this.enqueueChecked(items.slice(MAX_WINDOW))
      }
    } finally {
      this.pendingLocal--
    }
    this.schedule()
  }

  /** Queue items in order, after asking the store which it holds already (all at once) */
  private async enqueueChecked (items: Array<{ cid: CID, order: number[] }>): Promise<void> {
    // which are stored already, asked all at once: one check after another held back a
    // thousand-link node's first requests
    const stored = await Promise.all(items.map(async (item) => item.cid.multihash.code !== identity.code && await this.init.blocks.has(item.cid)))
    const walk: StoredBlock[] = []
    for (const [n, item] of items.entries()) {
      const key = mhKey(item.cid)
      if (this.done.has(key) || this.work.has(key) || this.walking.has(key)) continue
      if (item.cid.multihash.code === identity.code) {
        this.markDone(key, item.cid.multihash.digest.byteLength)
        continue
      }
      if (stored[n]) {
        this.walking.add(key)
        walk.push({ ...item, key })
        continue
      }
      this.work.add({ cid: item.cid, key, order: item.order, askedFrom: new Map() })
    }
    if (walk.length === 0) return
    // what is missing is asked for before the stored blocks are walked: a new version of a site
    // that changed one page must not wait for every unchanged page to be looked at first
    this.schedule()
    // resume (stored-walk.ts): walked into for their links, never asked for
    await walkStored(walk, {
      blocks: this.init.blocks,
      leaf: (item, size) => {
        this.stats.noteRawBlock(item.cid, size)
        this.markDone(item.key, size)
      },
      node: async (item, bytes) => {
        this.stats.noteBlock(item.cid, bytes)
        this.markDone(item.key, bytes.byteLength)
        await this.enqueue(this.linksOf(item.cid, bytes).map((cid, i) => ({ cid, order: [...item.order, i] })))
      }
      // once done, a block's key is in `done`, which keeps it from being walked twice as well
    }).finally(() => { for (const item of walk) this.walking.delete(item.key) })
  }

  /** The links to follow from a block: none when only the root is wanted */
  private linksOf (cid: CID, bytes: Uint8Array): CID[] {
    return this.init.walk === false ? [] : linksOf(cid, bytes)
  }

  /** A block is in the store: `over` names the protocol it came by, if it came from the network */
  private markDone (key: string, size: number, over?: ChannelProtocol): void {
    this.done.add(key)
    this.work.remove(key)
    this.stats.add(size, over)
    this.waiters.ready(key)
  }

  /** Give every peer as much work as its window allows */
  private schedule (): void {
    if (this.finished) return
    if (this.pendingWrites > MAX_PENDING_WRITES) return
    const now = Date.now()
    const peers = rankPeers(this.peers.values())
    for (const peer of peers) {
      if (peer.pausedUntil > now) continue
      while (peer.inflight < peer.window) {
        if (!this.gate.allows()) break
        const job = this.nextFor(peer)
        if (job == null) break
        // reserved now, so this peer is never picked for the same block twice
        job.askedFrom.set(peer.peerId, { channel: peer, id: -1 })
        peer.inflight++
        void this.want(peer, job)
      }
    }
    this.check()
  }

  private nextFor (peer: BlockChannel): Job | undefined {
    const lacks = this.lacks.of(peer.peerId)
    const job = this.work.take(lacks)
    if (job != null) return job
    // links still being queued are work to come: no end-game before they are in
    if (this.work.waiting > 0 || this.pendingLocal > 0) return undefined
    return this.work.duplicateFor(peer.peerId, lacks)
  }

  private async want (peer: BlockChannel, job: Job): Promise<void> {
    const sentAt = Date.now()
    // the cap's share of this request, settled when its block arrives, given back if none does
    let reserved = this.gate.reserve()
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      peer.inflight--
      this.schedule()
    }
    try {
      const { id, response } = await peer.request({ want: { cid: job.cid.bytes } })
      if (job.askedFrom.has(peer.peerId)) job.askedFrom.set(peer.peerId, { channel: peer, id })
      const res = await response
      job.askedFrom.delete(peer.peerId)
      const block = res.block
      if (block != null) {
        job.arrived = true
        this.gate.settle(reserved, block.byteLength)
        reserved = 0
        this.pendingWrites += block.byteLength
        try {
          await this.receive(peer, job, block, Date.now() - sentAt, release)
        } finally {
          this.pendingWrites -= block.byteLength
          block.release()
        }
      } else if (this.finished || this.done.has(job.key)) {
        // nothing to do
      } else if (res.no?.reason === No.Reason.BUSY) {
        peer.busy()
        setTimeout(() => { this.schedule() }, BUSY_PAUSE).unref()
        this.requeue(job)
      } else if (res.no?.reason === No.Reason.CANCELLED) {
        // another peer won the end-game race
        this.requeue(job)
      } else if (res.no?.reason === No.Reason.OVER_BUDGET) {
        // its relayed connection can carry no more: it leaves until it joins over a direct one
        this.requeue(job)
        peer.close(new Error(res.no.message))
      } else {
        this.lacks.note(peer.peerId, job.key)
        this.requeue(job)
      }
    } catch (err: any) {
      job.askedFrom.delete(peer.peerId)
      if (err instanceof StoreWriteError) {
        // our disk, not the peer: no other peer would do better
        this.fail(err)
      } else {
        if (!this.done.has(job.key)) this.requeue(job)
        if (!peer.closed) peer.close(err)
      }
    } finally {
      this.gate.giveBack(reserved)
      // a slot freed early was scheduled then; storing the block since may have made room again
      if (released) this.schedule()
      else release()
    }
  }

  /**
   * A block arrived: checked and stored, or only checked (intake.ts). The peer's window slot is
   * freed once the block is known good, so a liar gets no request after its first bad block.
   */
  private async receive (peer: BlockChannel, job: Job, block: BlockBytes, rttMs: number, release: () => void): Promise<void> {
    const copy = (): boolean => this.finished || this.done.has(job.key) || this.intake.storingNow(job.key)
    const intake = await this.intake.take(job.cid, job.key, block, copy)
    if (intake === 'bad') {
      job.arrived = false
      this.requeue(job)
      // a block already on its way when the peer's first bad block dropped it is not news
      if (this.intake.dropLiar(peer.peerId, job.cid)) {
        if (!this.finished) this.init.onProgress?.({ type: 'fetch:bad-block', peerId: peer.peerId, cid: job.cid.toString() })
        peer.close(new InvalidBlockError(`peer ${peer.peerId} sent a block that does not match ${job.cid}`))
      }
      return
    }
    // a node with links keeps its slot until they are queued (want() frees it then): freed now,
    // the schedule it starts finds the queue empty and begins end-game copies of blocks in flight
    if (job.cid.code !== dagPb.code) release()
    if (intake === 'copy') {
      if (copy()) {
        this.stats.duplicates++
        return
      }
      // the copy that was being stored turned out bad: this good one is stored instead
      await this.intake.store(job.cid, job.key, block)
    }
    this.init.onStored?.(peer.protocol, block.byteLength)
    peer.observe(rttMs, block.byteLength)
    this.init.log.trace('block %s from %s: rtt %d ms, window %d, in flight %d', job.cid, peer.peerId, rttMs, peer.window, peer.inflight)
    // the block's buffer is reused once this returns: blocks with links (dag-pb nodes, small),
    // whose CIDs are read from it and kept, are copied out
    const data = job.cid.code === dagPb.code ? copyBlock(block) : undefined
    if (data != null) this.stats.noteBlock(job.cid, data)
    else this.stats.noteRawBlock(job.cid, block.byteLength)
    this.markDone(job.key, block.byteLength, peer.protocol)
    // cancel the end-game copies still in flight
    for (const [other, { channel, id }] of job.askedFrom) {
      if (other !== peer.peerId && id >= 0) void channel.cancel(id)
    }
    if (!this.finished) this.init.onProgress?.(this.stats.blockEvent(this.peers.size))
    const links = data != null ? this.linksOf(job.cid, data) : []
    if (links.length > 0) {
      await this.enqueue(links.map((cid, i) => ({ cid, order: [...job.order, i] })))
    }
  }

  private requeue (job: Job): void {
    // a copy being stored settles it: stored, or requeued by the store's own failure
    if (this.done.has(job.key) || this.intake.storingNow(job.key) || job.askedFrom.size > 0) return
    this.work.requeue(job)
  }

  private removePeer (peer: BlockChannel, err?: Error): void {
    if (this.peers.get(peer.peerId) !== peer) return
    this.peers.delete(peer.peerId)
    this.lacks.peerLeft()
    if (err != null) this.init.log('peer %s left the session: %s', peer.peerId, err.message)
    this.init.onProgress?.({ type: 'fetch:peer', peerId: peer.peerId, protocol: peer.protocol, joined: false, peers: this.peers.size })
    // its blocks go back to the queue (want() requeues them as their requests fail)
    this.schedule()
  }

  /** Finish when nothing is left; fail when what is left cannot be had */
  private check (): void {
    if (this.finished || this.pendingLocal > 0) return
    if (this.work.size === 0) {
      this.finish()
      return
    }
    if (this.peerWait.waiting) return
    if (this.peers.size === 0) {
      if (this.peerWait.giveUpWithoutPeers()) this.fail(this.peerWait.noPeersError(this.init.root, this.work.size))
      return
    }
    // a queued block that every peer in the session lacks can never arrive
    const missing = this.lacks.unobtainable(this.peers.keys(), this.work.queued())
    if (missing != null) this.fail(new BlockNotFoundError(`no peer in the session has block ${missing.cid} of ${this.init.root}`))
  }

  /** Stop asking: timers off, every peer's channel closed */
  private end (): void {
    this.finished = true
    this.peerWait.stop()
    this.gate.stop()
    for (const peer of this.peers.values()) peer.close()
  }

  private finish (): void {
    this.end()
    this.init.onProgress?.(this.stats.doneEvent())
    // every block of the DAG is done, and its waiters woken: any left wait for a block outside it
    this.waiters.failAll(new BlockNotFoundError(`the fetch of ${this.init.root} ended without the block asked for: it is not part of that DAG`))
    this.resolveDone(this.stats.result())
  }

  fail (err: Error): void {
    if (this.finished) return
    this.error = err
    this.end()
    this.waiters.failAll(err)
    this.rejectDone(err)
  }
}

