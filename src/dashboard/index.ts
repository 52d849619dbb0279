/**
 * The live dashboard (docs/dashboard.md): a read-only page served by the daemon's control API
 * server at `GET /dashboard`, fed by a server-sent event stream (`GET /dashboard/events`) of
 * status snapshots: this peer, the swarm's members and their load, live transfers, stored
 * content, and bytes per second in and out. It holds no token and can change nothing.
 */
import { DASHBOARD_MAX_CLIENTS, DASHBOARD_MAX_PINS, DASHBOARD_SLOW_INTERVAL, DASHBOARD_TICK } from '../constants.js'
import { ActivityTracker } from './activity.js'
import { DashboardServer } from './server.js'
import type { Reachability, ShoalApi } from '../interface/types.js'
import type { FetchWatch } from '../exchange/index.js'
import type { ComponentLogger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type http from 'node:http'

/** One fetch session as the dashboard shows it */
export interface Transfer {
  id: number
  /** Root CID */
  cid: string
  state: 'running' | 'done' | 'failed' | 'aborted'
  startedAt: number
  endedAt?: number
  /** Blocks and bytes of the DAG stored so far (fetched or already here) */
  blocks: number
  bytes: number
  /** Bytes that came from peers */
  fetchedBytes: number
  /** Bytes of the whole DAG, once known */
  totalBytes?: number
  /** Peers in the session */
  peers: number
  /** Bytes per second fetched, over the session so far */
  rate: number
  /** Seconds left, when known */
  eta?: number
}

/** Bytes per second in (blocks fetched) and out (blocks served) over one tick */
export interface BandwidthSample {
  at: number
  in: number
  out: number
}

export interface ActivitySnapshot {
  /** Running transfers first (oldest first), then recently finished ones (newest first) */
  transfers: Transfer[]
  /** Transfers running now (some may be left out of `transfers`) */
  running: number
  bandwidth: { intervalMs: number, samples: BandwidthSample[] }
}

/** Counters the activity samples each tick */
export interface ActivitySources {
  /** Bytes the exchange server has sent so far */
  bytesSent?(): number
}

export interface ActivityInit {
  /**
   * Sampling period
   * @default 1 s
   */
  tickMs?: number
  /**
   * Bandwidth samples kept
   * @default 120
   */
  history?: number
  /**
   * How long finished transfers stay listed
   * @default 30 s
   */
  recentMs?: number
  /**
   * Transfers listed at most
   * @default 20
   */
  maxTransfers?: number
}

/** What moves through a peer now: fetch sessions and bandwidth */
export interface Activity {
  /** Track a fetch as it starts (the exchange tells its fetch observers) */
  fetchStarted(root: CID): FetchWatch
  /** Start sampling bandwidth once a tick (idempotent) */
  start(sources?: ActivitySources): void
  /** Stop sampling; leaves no timer */
  stop(): void
  snapshot(): ActivitySnapshot
}

export function createActivity (init: ActivityInit = {}): Activity {
  return new ActivityTracker(init)
}

/** What the dashboard reads: a few read-only calls of the peer, and its activity */
export interface DashboardComponents {
  api: Pick<ShoalApi, 'id' | 'stats' | 'members' | 'pinLs'> & Partial<Pick<ShoalApi, 'following'>>
  /** Absent when the peer does not track activity: no transfers, a flat chart */
  activity?: Pick<Activity, 'snapshot'>
  logger?: ComponentLogger
}

export interface DashboardInit {
  /**
   * How often a snapshot is pushed to open pages
   * @default 1 s
   */
  tickMs?: number
  /**
   * How often the store size, pins and connections are read again
   * @default 5 s
   */
  slowIntervalMs?: number
  /**
   * Pins listed at most
   * @default 50
   */
  maxPins?: number
  /**
   * Event streams served at once; more are answered 503
   * @default 8
   */
  maxClients?: number
}

export type ResolvedDashboardInit = Required<DashboardInit>

/** The routes of the dashboard, for a server that has already checked `Host` and `Origin` */
export interface Dashboard {
  /** Answer a request under `/dashboard`; resolves false when the path is not the dashboard's */
  handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean>
  /** One snapshot, as the page receives it */
  snapshot(): Promise<DashboardSnapshot>
  /** End open event streams and the push timer */
  stop(): void
}

/** What the page shows; every string in it may come from peers and is rendered as text */
export interface DashboardSnapshot {
  v: 1
  at: number
  self: { peerId: string, agentVersion: string, online: boolean, reachability: Reachability, addresses: string[], gateway?: string, uptime: number }
  network?: { connections: number, peers: number }
  store: { blocks: number, bytes: number, pins: number }
  uploads: { active: number, slots?: number, bytesSent: number }
  members: Array<{ peerId: string, state: string, uploads: number, uploadSlots: number, free: number, pins: number, lastSeen: number, version: string, self: boolean }>
  transfers: Transfer[]
  running: number
  bandwidth: ActivitySnapshot['bandwidth']
  pins: { total: number, items: Array<{ cid: string, name: string, size: number, pinnedAt: number }> }
  /** Followed names (docs/names.md): the version served now and when it arrived */
  names: Array<{ name: string, sequence?: number, cid?: string, at?: number, failed?: string }>
}

export function createDashboard (components: DashboardComponents, init: DashboardInit = {}): Dashboard {
  return new DashboardServer(components, {
    tickMs: init.tickMs ?? DASHBOARD_TICK,
    slowIntervalMs: init.slowIntervalMs ?? DASHBOARD_SLOW_INTERVAL,
    maxPins: init.maxPins ?? DASHBOARD_MAX_PINS,
    maxClients: init.maxClients ?? DASHBOARD_MAX_CLIENTS
  })
}
