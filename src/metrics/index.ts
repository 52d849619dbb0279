/**
 * Prometheus metrics: libp2p's own (through `@libp2p/prometheus-metrics`, into the same registry)
 * and shoal's. Served read-only at `/metrics` on the control API port. Names and labels are
 * listed in README.md ("Metrics").
 */
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { METRICS_STORE_STAT_INTERVAL } from '../constants.js'
import type { ExchangeMetrics, FetchObserver } from '../exchange/index.js'
import type { GatewayObserver } from '../gateway/index.js'
import type { Metrics as Libp2pMetrics, ComponentLogger } from '@libp2p/interface'

/** Values read when Prometheus scrapes; each is optional and set as the peer starts */
export interface MetricsSources {
  /** Bytes the exchange server has sent (`exchange.stats().server.bytesSent`) */
  exchangeBytesSent?(): number
  /** Bytes of blocks sent to IPFS nodes over bitswap */
  bitswapBytesSent?(): number
  /** The store's size */
  storeStat?(): Promise<{ blocks: number, bytes: number, pins: number }>
  /** Peers with an open connection */
  connectedPeers?(): number
}

export interface MetricsInit {
  /**
   * Where `nodejs_fs_usage_bytes` looks (the repo)
   * @default process.cwd()
   */
  statfsLocation?: string
}

export interface ShoalMetrics {
  /** Pass to libp2p's `metrics` option so its metrics land in this registry */
  readonly libp2p: (components: { logger: ComponentLogger }) => Libp2pMetrics
  /** What the gateway reports */
  readonly gateway: GatewayObserver
  /** Sources read at scrape time; assign fields as parts of the peer start */
  readonly sources: MetricsSources
  /**
   * Hook for the gossip room: report the membership table's size as `shoal_membership_peers`.
   * Until it is called, that metric is absent (and `shoal_connected_peers` is the peer count)
   */
  reportMembership(size: () => number): void
  /** What the exchange reports: the bytes of blocks fetched, by protocol */
  readonly exchange: ExchangeMetrics
  /** Times every fetch, by how it ended */
  readonly fetches: FetchObserver
  /** The exposition text and its content type */
  scrape(): Promise<{ contentType: string, text: string }>
}

class PrometheusShoalMetrics implements ShoalMetrics {
  readonly libp2p
  readonly gateway: GatewayObserver
  readonly exchange: ExchangeMetrics
  readonly fetches: FetchObserver
  readonly sources: MetricsSources = {}
  private readonly registry = new Registry()

  constructor (init: MetricsInit) {
    const registry = this.registry
    this.libp2p = prometheusMetrics({ registry, statfsLocation: init.statfsLocation })
    const sources = this.sources
    let gatewayBytes = 0
    new Counter({
      name: 'shoal_bytes_served_total',
      help: 'Bytes of content served, by protocol (exchange: blocks to shoal peers; bitswap: blocks to IPFS nodes; gateway: HTTP response bodies)',
      labelNames: ['protocol'],
      registers: [registry],
      collect () {
        // both keep their own running totals: report them as they are
        this.reset()
        this.inc({ protocol: 'exchange' }, sources.exchangeBytesSent?.() ?? 0)
        this.inc({ protocol: 'bitswap' }, sources.bitswapBytesSent?.() ?? 0)
        this.inc({ protocol: 'gateway' }, gatewayBytes)
      }
    })
    const fetchedBytes = new Counter({ name: 'shoal_bytes_fetched_total', help: 'Bytes of blocks fetched and stored, by protocol (exchange: from shoal peers; bitswap: from IPFS nodes; http: from trustless gateways)', labelNames: ['protocol'], registers: [registry] })
    fetchedBytes.inc({ protocol: 'exchange' }, 0)
    this.exchange = {
      blockStored: (protocol, bytes) => { fetchedBytes.inc({ protocol: protocol === 'shoal' ? 'exchange' : protocol }, bytes) }
    }
    const fetchDuration = new Histogram({
      name: 'shoal_fetch_duration_seconds',
      help: 'How long fetch sessions ran, by outcome: ok, error, aborted (stopped by their reader, e.g. a gateway range fetch once its block arrived)',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers: [registry]
    })
    this.fetches = {
      fetchStarted: () => {
        const end = fetchDuration.startTimer()
        return { ended: (outcome) => { end({ outcome: outcome === 'done' ? 'ok' : outcome === 'aborted' ? 'aborted' : 'error' }) } }
      }
    }
    const requests = new Counter({ name: 'shoal_gateway_requests_total', help: 'Gateway responses by HTTP status', labelNames: ['status'], registers: [registry] })
    const requestDuration = new Histogram({
      name: 'shoal_gateway_request_duration_seconds',
      help: 'Gateway response times, to the last byte',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry]
    })
    const cacheBlocks = new Counter({ name: 'shoal_gateway_cache_blocks_total', help: 'Blocks the gateway read, by result: hit (in the store) or miss (fetched from peers)', labelNames: ['result'], registers: [registry] })
    let hits = 0
    let misses = 0
    new Gauge({
      name: 'shoal_gateway_cache_hit_ratio',
      help: 'Share of the blocks the gateway read that were already in the store (0 before any read)',
      registers: [registry],
      collect () { this.set(hits + misses === 0 ? 0 : hits / (hits + misses)) }
    })
    this.gateway = {
      request: (status, seconds) => {
        requests.inc({ status: String(status) })
        requestDuration.observe(seconds)
      },
      bytesServed: (n) => { gatewayBytes += n },
      block: (hit) => {
        if (hit) hits++
        else misses++
        cacheBlocks.inc({ result: hit ? 'hit' : 'miss' })
      }
    }
    let stat: { at: number, value?: { blocks: number, bytes: number, pins: number } } = { at: 0 }
    new Gauge({
      name: 'shoal_store_bytes',
      help: 'Bytes of blocks in the store (counted at most every 15 s)',
      labelNames: ['kind'],
      registers: [registry],
      async collect () {
        if (sources.storeStat == null) return
        if (Date.now() - stat.at > METRICS_STORE_STAT_INTERVAL || stat.value == null) {
          stat = { at: Date.now(), value: await sources.storeStat() }
        }
        this.set({ kind: 'bytes' }, stat.value?.bytes ?? 0)
        this.set({ kind: 'blocks' }, stat.value?.blocks ?? 0)
        this.set({ kind: 'pins' }, stat.value?.pins ?? 0)
      }
    })
    new Gauge({
      name: 'shoal_connected_peers',
      help: 'Peers with an open connection',
      registers: [registry],
      collect () { this.set(sources.connectedPeers?.() ?? 0) }
    })
  }

  reportMembership (size: () => number): void {
    if (this.registry.getSingleMetric('shoal_membership_peers') != null) return
    new Gauge({
      name: 'shoal_membership_peers',
      help: 'Peers in the gossip membership table',
      registers: [this.registry],
      collect () { this.set(size()) }
    })
  }

  async scrape (): Promise<{ contentType: string, text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() }
  }
}

export function createMetrics (init: MetricsInit = {}): ShoalMetrics {
  return new PrometheusShoalMetrics(init)
}
