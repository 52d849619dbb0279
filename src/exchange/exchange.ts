/**
 * The exchange (index.ts states its interface): the servers of the shoal exchange and bitswap,
 * and the client's fetch sessions with the channels they draw blocks through
 */
import { multiaddr } from '@multiformats/multiaddr'
import { EXCHANGE_PROTOCOL, MAX_SESSION_PEERS, PROVIDER_SEARCH_PAUSE, PROVIDER_SEARCH_ROUNDS, BAN_DURATION } from '../constants.js'
import { CONFIG_DEFAULTS } from '../defaults.js'
import { InvalidArgumentError } from '../errors.js'
import { isPeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { CircuitBudgets, DIRECT_WAIT, limitedReason, waitForDirect } from './limited.js'
import { JOIN_ATTEMPTS, JOIN_PAUSE, addIfHasRoot, joinOverLimited, joinSignal } from './join.js'
import { PeerChannel, peerIdOf } from './channel.js'
import type { BlockChannel } from './channel.js'
import { ExchangeServer } from './server.js'
import { RateLimiter } from './rate.js'
import { Uploads } from './uploads.js'
import { BITSWAP_PROTOCOLS, BitswapServer } from './bitswap/server.js'
import { BitswapChannel } from './bitswap/channel.js'
import { deliverToAll } from './bitswap/received.js'
import { HttpChannel } from './http-channel.js'
import { MAX_PERF_BYTES, handlePerf, runPerf } from './perf.js'
import { FetchSession } from './session.js'
import { SharedFetch } from './shared-fetch.js'
import { mhKey } from '../store/index.js'
import type { Exchange, ExchangeComponents, ExchangeInit, ExchangeStats, FetchOptions, ResolvedExchangeInit } from './index.js'
import type { FetchHandle } from './shared-fetch.js'
import type { PerfOptions, PerfRun } from './perf.js'
import type { IdentifyResult, PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** Peers whose last exchange activity is remembered (the least recently heard are forgotten first) */
const MAX_HEARD_PEERS = 4096

export class ShoalExchange implements Exchange {
  private readonly components: ExchangeComponents
  private readonly init: ResolvedExchangeInit
  private readonly server: ExchangeServer
  /** Each limited (relayed) connection's byte budget, for the error when it is the only path */
  private readonly budgets: CircuitBudgets
  /** Upload slots and rate cap, shared by every protocol that serves blocks */
  private readonly uploads: Uploads
  private readonly bitswap: BitswapServer
  /** Fetch channels to peers that speak bitswap only, by peer: their answers come to the server */
  private readonly bitswapChannels = new Map<string, Set<BitswapChannel>>()
  private readonly banned = new Map<string, number>()
  private readonly sessions = new Set<FetchSession>()
  /** Fetches of whole DAGs that run now, by the root's codec and multihash: the same root joins them */
  private readonly running = new Map<string, SharedFetch>()
  /** The download cap (`downloadRate`), one bucket for all of this peer's fetches */
  private readonly download: RateLimiter

  constructor (components: ExchangeComponents, init: ExchangeInit) {
    this.components = components
    const defaults = CONFIG_DEFAULTS.exchange
    this.init = {
      uploadSlots: init.uploadSlots ?? defaults.uploadSlots,
      uploadRate: init.uploadRate ?? defaults.uploadRate,
      downloadRate: init.downloadRate ?? defaults.downloadRate,
      maxInboundStreams: init.maxInboundStreams ?? defaults.maxInboundStreams,
      maxRequestsPerStream: init.maxRequestsPerStream ?? defaults.maxRequestsPerStream,
      perf: init.perf ?? defaults.perf,
      bitswap: init.bitswap ?? defaults.bitswap
    }
    this.uploads = new Uploads(this.init.uploadSlots, this.init.uploadRate)
    this.server = new ExchangeServer(components, this.init, this.uploads)
    this.budgets = new CircuitBudgets(components.host)
    this.bitswap = new BitswapServer({ host: components.host, blocks: components.blocks, uploads: this.uploads, collector: components.collector })
    this.bitswap.onAnswers = (peer, message) => {
      this.heard(peer)
      void deliverToAll([...this.bitswapChannels.get(peer) ?? []], message)
    }
    this.bitswap.onLost = (peer) => {
      for (const channel of this.bitswapChannels.get(peer) ?? []) channel.answersLost()
    }
    this.download = new RateLimiter(this.init.downloadRate)
    this.server.onHeard = this.heard
  }

  private readonly heardAt = new Map<string, number>()
  private readonly heard = (peerId: string): void => {
    const now = Date.now()
    // re-inserted, so the map stays in order of last activity and the oldest go first
    this.heardAt.delete(peerId)
    this.heardAt.set(peerId, now)
    if (this.heardAt.size > MAX_HEARD_PEERS) {
      for (const key of this.heardAt.keys()) {
        this.heardAt.delete(key)
        if (this.heardAt.size <= MAX_HEARD_PEERS / 2) break
      }
    }
  }

  lastHeard (peerId: string): number | undefined {
    return this.heardAt.get(peerId)
  }

  async start (): Promise<void> {
    this.budgets.start()
    await this.server.start()
    if (this.init.bitswap) await this.bitswap.start()
    if (this.init.perf) await handlePerf(this.components.host, this.components.collector)
  }

  async perf (target: string, bytes: number, options: PerfOptions = {}): Promise<PerfRun> {
    let ma
    try {
      ma = multiaddr(target)
      peerIdOf(ma)
    } catch {
      throw new InvalidArgumentError(`invalid multiaddr "${target}": expected one ending in /p2p/<peer id>`)
    }
    if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > MAX_PERF_BYTES) {
      throw new InvalidArgumentError(`perf bytes must be between 1 and ${MAX_PERF_BYTES}`)
    }
    const r = await runPerf(this.components.host, ma, bytes, options)
    this.components.collector?.ended(r.bytes)
    return r
  }

  async stop (): Promise<void> {
    for (const s of this.sessions) s.fail(new Error('the peer is stopping'))
    await this.server.stop()
    if (this.init.bitswap) await this.bitswap.stop()
    this.budgets.stop()
  }

  stats (): ExchangeStats {
    return { server: { ...this.server.stats }, bitswap: this.bitswap.stats(), activeUploads: this.uploads.active, activeFetches: this.sessions.size, banned: this.banned.size }
  }

  private isBanned (peerId: string): boolean {
    const until = this.banned.get(peerId)
    if (until == null) return false
    if (until > Date.now()) return true
    this.banned.delete(peerId)
    return false
  }

  fetch (root: CID, options: FetchOptions = {}): FetchHandle {
    const targets = this.targetsOf(options.from ?? [])
    const watches = (this.components.observers ?? []).map(o => o.fetchStarted(root))
    if (watches.length === 0) return this.attach(root, options, targets)
    const onProgress = options.onProgress
    const handle = this.attach(root, {
      ...options,
      onProgress: (e) => {
        for (const w of watches) w.progress?.(e)
        onProgress?.(e)
      }
    }, targets)
    handle.result.then(() => { for (const w of watches) w.ended('done') }, (err: any) => {
      const outcome = err?.name === 'AbortError' || options.signal?.aborted === true ? 'aborted' : 'failed'
      for (const w of watches) w.ended(outcome)
    })
    return handle
  }

  /** `--from`: multiaddrs with a peer id, or URLs of trustless gateways */
  private targetsOf (from: string[]): Target[] {
    return from.map((a): Target => {
      const url = HttpChannel.parse(a)
      if (url != null) return url
      try {
        const ma = multiaddr(a)
        peerIdOf(ma)
        return ma
      } catch {
        throw new InvalidArgumentError(`invalid --from "${a}": expected a multiaddr ending in /p2p/<peer id>, or an http(s) URL of a trustless gateway`)
      }
    })
  }

  /** A fetch of `root` for one caller: it joins a session of the same DAG that runs, or starts one */
  private attach (root: CID, options: FetchOptions, targets: Target[]): FetchHandle {
    // a reader of one block (walk: false) starts its own small session
    const key = options.walk === false ? undefined : `${root.code}/${mhKey(root)}`
    const running = key != null ? this.running.get(key) : undefined
    if (running?.session.running === true) {
      for (const ma of targets) running.addTarget(ma)
      return running.attach(options)
    }
    const shared = new SharedFetch()
    const addTarget = this.startSession(root, options, targets, shared)
    if (key != null) {
      this.running.set(key, shared)
      void shared.session.result.finally(() => { if (this.running.get(key) === shared) this.running.delete(key) }).catch(() => {})
    }
    shared.addTarget = addTarget
    return shared.attach(options)
  }

  /** Start a session for `shared`; returns how to add a named peer to it later */
  private startSession (root: CID, options: FetchOptions, targets: Target[], shared: SharedFetch): (target: Target) => void {
    const log = this.components.host.logger.forComponent('shoal:exchange:client')
    const session = new FetchSession({
      root,
      blocks: this.components.blocks,
      log,
      download: this.download,
      ban: (peerId) => { this.banned.set(peerId, Date.now() + BAN_DURATION) },
      signal: shared.signal,
      onProgress: shared.progress,
      onStored: this.components.metrics != null ? (protocol, bytes) => { this.components.metrics?.blockStored(protocol, bytes) } : undefined,
      walk: options.walk
    })
    shared.session = session
    this.sessions.add(session)
    void session.result.finally(() => this.sessions.delete(session)).catch(() => {})
    session.result.then((r) => { this.components.collector?.ended(r.fetchedBytes) }, () => {})

    // peers that connect while the session runs (a seeder restarted, a member met) are asked
    // too, from the start: a first-round peer that hangs must not keep later ones out
    const host = this.components.host
    const joining = new Set<string>()
    const tryJoin = async (target: PeerId | Target, key: string, probe: boolean): Promise<void> => {
      if (!session.running || session.hasPeer(key) || joining.has(key) || session.peerCount >= MAX_SESSION_PEERS || this.isBanned(key)) return
      joining.add(key)
      try {
        await this.join(session, target, root, probe, shared.signal)
      } finally {
        joining.delete(key)
      }
    }
    // identify tells which protocols a peer speaks, on every new connection and again when they
    // change (a daemon that registers the exchange after connecting): only peers that speak the
    // exchange or bitswap are asked
    const onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
      const speaks = evt.detail.protocols.includes(EXCHANGE_PROTOCOL) ||
        (this.init.bitswap && evt.detail.protocols.some(p => (BITSWAP_PROTOCOLS as readonly string[]).includes(p)))
      if (!speaks) return
      void tryJoin(evt.detail.peerId, evt.detail.peerId.toString(), true)
    }
    void session.result.finally(() => { host.removeEventListener('peer:identify', onIdentify) }).catch(() => {})

    void (async () => {
      await session.start()
      if (session.running) host.addEventListener('peer:identify', onIdentify)
      const joins: Array<Promise<void>> = []
      const seen = new Set<string>()
      for (const target of targets) {
        const id = targetId(target)
        if (seen.has(id)) continue
        seen.add(id)
        joins.push(tryJoin(target, id, false))
      }
      // lightly loaded peers are asked first, and the session takes at most MAX_SESSION_PEERS
      const connected = [...new Map(host.getConnections().map(c => [c.remotePeer.toString(), c])).values()]
      if (options.rank != null) {
        const rank = options.rank
        connected.sort((a, b) => rank(a.remotePeer.toString()) - rank(b.remotePeer.toString()))
      }
      for (const conn of connected) {
        if (joins.length >= MAX_SESSION_PEERS) break
        const id = conn.remotePeer.toString()
        if (seen.has(id)) continue
        seen.add(id)
        joins.push(tryJoin(conn.remotePeer, id, true))
      }
      await Promise.all(joins)
      // a search that found no peer able to serve is made once more, a moment later: on a busy
      // machine a lookup or a dial can miss (each provider found is asked again)
      for (let round = 0; round < PROVIDER_SEARCH_ROUNDS && session.peerCount === 0 && session.running && options.providers != null; round++) {
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, PROVIDER_SEARCH_PAUSE))
        const search = new AbortController()
        void session.result.finally(() => { search.abort() }).catch(() => {})
        const asked = new Set(seen)
        const found: Array<Promise<void>> = []
        try {
          for await (const id of options.providers(search.signal)) {
            const key = id.toString()
            if (asked.has(key)) continue
            asked.add(key)
            found.push(tryJoin(id, key, true))
          }
        } catch (err: any) {
          log('provider search for %s ended: %s', root, err.message)
        } finally {
          search.abort()
        }
        await Promise.all(found)
      }
      session.providersDone()
    })().catch((err) => { session.fail(err) })
    // a peer named by a later caller of the same fetch
    return (target) => {
      const joined = session.expectPeer()
      void tryJoin(target, targetId(target), false).finally(joined)
    }
  }

  /** Open a channel to a peer and add it to the session if it has the root (or was named) */
  private async join (session: FetchSession, target: PeerId | Target, root: CID, probe: boolean, signal?: AbortSignal, retry = true, attempt = 1): Promise<void> {
    let channel: BlockChannel | undefined
    try {
      channel = await this.openChannel(target, joinSignal(signal))
      await addIfHasRoot(session, channel, root, probe)
    } catch (err: any) {
      channel?.close(err)
      this.components.host.logger.forComponent('shoal:exchange:client')('could not add %s: %s', target.toString(), err.message)
      if (err.name === 'LimitedConnectionError' && !(target instanceof URL)) {
        await this.joinLimited(session, target, root, probe, signal, retry)
      } else if (err.name === 'ConnectionClosedError' && attempt < JOIN_ATTEMPTS && session.running) {
        // the connection closed as it opened (JOIN_ATTEMPTS says when)
        await new Promise(resolve => setTimeout(resolve, JOIN_PAUSE))
        await this.join(session, target, root, probe, signal, retry, attempt + 1)
      }
    }
  }

  /**
   * The peer is reachable only over a limited relayed connection: it joins over that connection
   * (the server sends only the blocks that fit the circuit's budget: a small DAG comes whole),
   * and over a direct one in its place if one appears within a few seconds; else why it cannot
   * serve is recorded (the session's error, if no other peer can serve)
   */
  private async joinLimited (session: FetchSession, target: PeerId | Target, root: CID, probe: boolean, signal: AbortSignal | undefined, retry: boolean): Promise<void> {
    if (target instanceof URL) return
    const peer = isPeerId(target) ? target : peerIdFromString(peerIdOf(target))
    const done = session.expectPeer()
    try {
      const limited = retry ? await joinOverLimited({ host: this.components.host, session, peer, root, probe, signal, onHeard: this.heard, log: this.components.host.logger.forComponent('shoal:exchange:client') }) : undefined
      if (retry && await waitForDirect(this.components.host, peer, DIRECT_WAIT, signal, () => !session.running)) {
        // in-flight wants on the circuit go back to the queue and are asked again directly
        limited?.close()
        await this.join(session, peer, root, probe, signal, false)
        return
      }
      if (!session.running) return
      const reason = limitedReason(this.components.host, this.budgets, peer)
      if (reason != null) session.unreachable(peer.toString(), reason)
    } finally {
      done()
    }
  }

  /**
   * A channel to a peer in the best protocol it speaks: shoal's exchange, else bitswap (an IPFS
   * node), where bitswap is on
   */
  private async openChannel (target: PeerId | Target, signal: AbortSignal): Promise<BlockChannel> {
    if (target instanceof URL) return new HttpChannel(target)
    try {
      return await PeerChannel.open(this.components.host, target, signal, this.heard)
    } catch (err: any) {
      if (err.name !== 'UnsupportedProtocolError' || !this.init.bitswap) throw err
    }
    const channel = await BitswapChannel.open(this.components.host, target, (c) => {
      const set = this.bitswapChannels.get(c.peerId)
      set?.delete(c)
      if (set?.size === 0) this.bitswapChannels.delete(c.peerId)
    }, signal)
    // each session has its own channel (its own wants); the peer's answers go to all of them
    const set = this.bitswapChannels.get(channel.peerId) ?? new Set()
    set.add(channel)
    this.bitswapChannels.set(channel.peerId, set)
    return channel
  }
}

/** A peer named by a fetch: a multiaddr ending in /p2p/, or a trustless gateway's URL */
export type Target = ReturnType<typeof multiaddr> | URL

function targetId (target: Target): string {
  return target instanceof URL ? target.origin : peerIdOf(target)
}
