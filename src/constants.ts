/**
 * shoal's fixed limits, timings and names, with readable units: what no config sets. The
 * defaults of what a user may configure are configs/default.json (read through defaults.ts).
 */

export const second = 1000
export const minute = 60 * second

export const KiB = 1024
export const MiB = 1024 * KiB
export const GiB = 1024 * MiB

/** Repo directory when neither `--repo` nor `$SHOAL_REPO` is given, relative to the home directory */
export const DEFAULT_REPO_DIRNAME = '.shoal'

/** Environment variable naming the repo directory */
export const REPO_ENV = 'SHOAL_REPO'

/** Profiles the importer understands (IPIP-499) */
export const PROFILES = ['unixfs-v1-2025', 'unixfs-v0-2015'] as const

/** The largest block the store accepts, matching the exchange protocol's limit */
export const MAX_BLOCK_SIZE = 2 * MiB

/** How many blocks the importer hashes at once */
export const DEFAULT_BLOCK_WRITE_CONCURRENCY = 8

/** Bytes of blocks queued for writing while the importer reads ahead */
export const WRITE_BEHIND_BYTES = 16 * MiB

/** The largest control API request body that is parsed as JSON */
export const MAX_API_JSON_BODY = 64 * KiB

/** The largest frame of the entry stream used for publish/get over the API */
export const MAX_ENTRY_FRAME = 4 * MiB

/** How long the CLI waits for a daemon's API before calling it unreachable */
export const API_CONNECT_TIMEOUT = 2 * second

/** How long `shoal start` waits for libp2p to stop before giving up */
export const SHUTDOWN_TIMEOUT = 10 * second

/** Block-exchange protocol id */
export const EXCHANGE_PROTOCOL = '/shoal/exchange/1.0.0'

/** Largest request message on an exchange stream */
export const MAX_EXCHANGE_REQUEST = 64 * KiB

/** Largest response message on an exchange stream: a block plus framing */
export const MAX_EXCHANGE_RESPONSE = 4 * MiB

/** CIDs in one `have` request */
export const MAX_HAVE_CIDS = 1024

/** Inbound exchange streams on one connection */
export const MAX_INBOUND_STREAMS_PER_CONNECTION = 8

/** Largest window of requests in flight to one peer */
export const MAX_WINDOW = 16

/** Window a new peer starts with */
export const INITIAL_WINDOW = 4

/** How long a peer that sent a bad block is kept out of sessions */
export const BAN_DURATION = 10 * minute

/** How long a peer has to answer `have` for a session's root */
export const HAVE_TIMEOUT = 5 * second

/** How long a `want` may wait for its block before the peer is considered stalled */
export const WANT_TIMEOUT = 30 * second

/** Raw-throughput probe protocol id (off unless `exchange.perf`) */
export const EXCHANGE_PERF_PROTOCOL = '/shoal/perf/1.0.0'

/** Bytes `shoal perf` downloads unless told otherwise */
export const DEFAULT_PERF_BYTES = 256 * MiB

/** Bytes a fetch may hold received but not yet stored; past it, no new requests go out */
export const MAX_PENDING_WRITES = 8 * MiB

/** A block to come, as the download cap first counts it before any has arrived: a leaf of the default profile */
export const RATE_BLOCK_ESTIMATE = MiB

/** Longest a capped fetch waits before it looks at the download cap's bucket again */
export const MAX_RATE_WAIT = 60 * second

/** `fetch:block` events over the control API: at most one per this many ms (src/api/sampled.ts) */
export const FETCH_PROGRESS_INTERVAL = 0.1 * second

/** Providers `find` and `fetch` stop after */
export const DEFAULT_FIND_PROVIDERS_LIMIT = 20

/** How long a provider search may run */
export const DEFAULT_FIND_TIMEOUT = 30 * second

/** Swarm peers found at the rendezvous dialled per round */
export const RENDEZVOUS_DIAL_LIMIT = 8

/** How long a background provide (after publish or fetch) may run */
export const PROVIDE_TIMEOUT = 60 * second

/** A member is suspect after this many heartbeat periods without a beat */
export const SUSPECT_AFTER_BEATS = 1.5

/** A member is gone after this many heartbeat periods without a beat */
export const GONE_AFTER_BEATS = 2.5

/** Gone members are forgotten after this many heartbeat periods */
export const FORGET_AFTER_BEATS = 60

/** Largest gossip message shoal accepts on its topics */
export const MAX_GOSSIP_MESSAGE = 4 * KiB

/** Largest message data gossipsub decodes at all (shoal's validators reject above MAX_GOSSIP_MESSAGE) */
export const MAX_GOSSIP_DATA = 64 * KiB

/** How far a gossip message's time may be from ours */
export const MAX_CLOCK_SKEW = 5 * minute

/** Members kept in the membership table */
export const MAX_MEMBERS = 10_000

/** Announcements kept for `watch` subscribers that read slowly, per subscriber */
export const WATCH_BUFFER = 256

/**
 * How long a publisher collects replica volunteers before it assigns, at most: once as many as it
 * asked for have come, it waits only as long again as they took (at least `VOLUNTEER_GRACE`), so
 * volunteers about as near have their chance and nobody waits for the far ones
 */
export const VOLUNTEER_WINDOW = 2 * second
/** The least a publisher waits after its volunteers are as many as it asked for */
export const VOLUNTEER_GRACE = second / 4

/**
 * How long a publisher waits for HELD from a holder it assigned before it assigns another
 * volunteer in its place: this, plus the content's bytes at `HELD_RATE`
 */
export const HELD_DEADLINE = 4 * second
export const HELD_RATE = MiB / second
/** Holders a publisher assigns in place of ones not heard in time, at most, per request */
export const HOLDER_REPLACEMENTS = 3

/** How long a publisher waits for enough volunteers in all */
export const REPLICATE_TIMEOUT = 30 * second

/** Holders remembered per CID, and CIDs whose holders are remembered */
export const MAX_HOLDERS_PER_CID = 64
export const MAX_HOLDER_CIDS = 4096

/** How long `status` searches the DHT for holders */
export const STATUS_FIND_TIMEOUT = 10 * second

/** How often a peer with a store quota checks it (besides after every fetch) */
export const QUOTA_CHECK_INTERVAL = minute

/** How soon the quota is checked again when fetches or publishes kept an eviction off */
export const QUOTA_BUSY_RETRY = 5 * second

/** How long a fetch whose peers have all left (killed, restarted) waits for one to connect before it fails */
export const REJOIN_GRACE = 15 * second

/** Opening an exchange stream to a peer joining a fetch (dial and protocol negotiation) at most */
export const JOIN_TIMEOUT = 30 * second

/** Bytes a replica may have beyond its announced size (and 1%), for its DAG's own nodes */
export const REPLICA_SLACK = MiB

/** Provider searches a fetch makes when one finds no peer that can serve (DHT lookups and dials can miss on a busy machine) */
export const PROVIDER_SEARCH_ROUNDS = 2

/** The pause before a fetch searches for providers again */
export const PROVIDER_SEARCH_PAUSE = 1 * second

/** Connected peers asked to join one fetch at most (the lightest loaded first) */
export const MAX_SESSION_PEERS = 16

/** How often a peer with no connection dials its bootstrap peers again, at first */
export const BOOTSTRAP_RETRY_INTERVAL = 5 * second

/** The longest wait between two rounds of bootstrap dials while every one fails */
export const BOOTSTRAP_MAX_RETRY_INTERVAL = 5 * 60 * second

/** How often `shoal start` looks whether the bootstrap problem it logs has changed */
export const BOOTSTRAP_LOG_INTERVAL = 2 * second

/** Largest request head (request line and headers) the gateway reads; more is answered 431 */
export const MAX_GATEWAY_HEADER_SIZE = 8 * KiB

/** Longest request target (path and query) the gateway accepts; longer is answered 414 */
export const MAX_GATEWAY_URL_LENGTH = 4 * KiB

/** Ranges in one `Range` header; more are answered 416 */
export const MAX_GATEWAY_RANGES = 16

/** Bytes the gateway reads from the start of a file to sniff its type when the name does not tell */
export const SNIFF_BYTES = 4 * KiB

/** Cache-Control of every immutable gateway response (what IPFS gateways send) */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=29030400, immutable'

/** How long a scrape may reuse the store's size before it is counted again */
export const METRICS_STORE_STAT_INTERVAL = 15 * second

/** Memory the gateway keeps recently read interior blocks (file roots, directories) in */
export const GATEWAY_BLOCK_CACHE_BYTES = 32 * MiB
/** Memory the gateway keeps files' layouts (their leaves' CIDs, offsets and sizes) in */
export const GATEWAY_LAYOUT_CACHE_BYTES = 32 * MiB
/**
 * Size of the reusable buffers a fetch receives blocks into (the importer's chunk size, so a
 * file's leaves fit one each); larger blocks get a buffer of their own
 */
export const BLOCK_BUFFER_SIZE = MiB

/**
 * Received-block buffers made for reuse (aligned, shared memory; see exchange/block-buffers.ts):
 * enough for a peer's full window of blocks arriving while the pending writes are at their cap.
 * Once all are in use, blocks arrive in ordinary memory.
 */
export const BLOCK_BUFFERS_KEPT = MAX_PENDING_WRITES / BLOCK_BUFFER_SIZE + MAX_WINDOW

/**
 * Buffers the exchange server reads blocks into and uses again once noise has encrypted them
 * (exchange/serve-buffers.ts): a stream's blocks read ahead and those waiting in its send queues,
 * for a few streams at once. Once all are out, blocks are read into memory of their own.
 */
export const SERVE_BUFFERS_KEPT = 16

/**
 * How long the block I/O thread (store/io-thread.ts) may sit idle before it is stopped: a worker
 * holds memory that is given back this way once a fetch is over, and starting it again is cheap
 * (docs/performance.md)
 */
export const IO_THREAD_IDLE_STOP = 60 * second

/**
 * Node options `shoal start` re-executes itself with (same process, see bin/shoal.ts). A block
 * passes through buffers that live a few milliseconds; a young generation this small (1 MB
 * semi-spaces) is scavenged often enough that they die there instead of being promoted and
 * waiting for a full mark-compact, so little of their memory is dead and unfreed at any time.
 * `--expose-gc` lets the daemon run a full collection once a bulk transfer is over
 * (exchange/collect.ts). The old generation starts at 64 MB instead of growing from a few: with
 * external memory weighed against the heap's limits (DAEMON_V8_FLAGS), a limit sized to the
 * daemon's live heap ran a mark-compact every few MiB streamed. Options the user gives come
 * after, so theirs win. What each saves is measured in docs/performance.md.
 */
export const DAEMON_NODE_OPTIONS = ['--max-semi-space-size=1', '--initial-old-space-size=64', '--expose-gc']

/**
 * Environment `shoal start` re-executes itself with, where the user has not set these. One
 * malloc arena (glibc; other C libraries ignore it) instead of one per thread that allocates:
 * blocks stream through 64 KiB buffers made on the event loop and freed by V8's helper threads,
 * and with several arenas the memory freed ended up spread over heaps that are rarely given
 * back (docs/performance.md).
 */
export const DAEMON_ENV: Record<string, string> = { MALLOC_ARENA_MAX: '1' }

/**
 * V8 flags the daemon sets as it starts. Buffers count as external memory; by default V8 adds
 * what was allocated since the last mark-compact to the old generation's size, so streaming
 * blocks through a small heap ran a full collection every few MiB. With this flag that memory is
 * weighed against the (larger) global limit instead. Unknown flags are ignored, so a V8 that
 * drops this one only loses the tuning.
 */
export const DAEMON_V8_FLAGS = ['--external-memory-accounted-in-global-limit']

/** Set in the environment of a daemon that has re-executed itself with its options */
export const DAEMON_REEXEC_ENV = 'SHOAL_DAEMON_REEXEC'

/** How often the dashboard samples bandwidth and pushes a snapshot to open pages */
export const DASHBOARD_TICK = 1 * second

/** Bandwidth samples the dashboard keeps for its chart (one per tick: two minutes) */
export const DASHBOARD_HISTORY = 120

/** How long a finished transfer stays listed on the dashboard */
export const DASHBOARD_RECENT_TRANSFER = 30 * second

/** Transfers the dashboard lists at most (running first, then the latest finished) */
export const DASHBOARD_MAX_TRANSFERS = 20

/** Pins the dashboard lists at most (newest first); the total is shown too */
export const DASHBOARD_MAX_PINS = 50

/** How often the dashboard re-reads what is slow to count (store size, pins, connections) */
export const DASHBOARD_SLOW_INTERVAL = 5 * second

/** Dashboard pages (event streams) served at once; more are answered 503 */
export const DASHBOARD_MAX_CLIENTS = 8

/** A transfer at least this large is followed by a full garbage collection (exchange/collect.ts) */
export const BULK_TRANSFER = 64 * MiB

/** How long after the last bulk transfer ended that collection runs */
export const BULK_TRANSFER_COLLECT_DELAY = 200

/** The longest global presence period of the v2 topic (docs/gossip.md): the swarm's budget holds up to budget x this many peers */
export const MAX_GLOBAL_INTERVAL = 24 * 60 * minute

/** The longest presence period peers of the first version accept */
export const MAX_V1_INTERVAL = 10 * minute
