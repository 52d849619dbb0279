/**
 * Every default shoal uses, in one place, with readable units.
 */

export const second = 1000
export const minute = 60 * second
export const hour = 60 * minute

export const KiB = 1024
export const MiB = 1024 * KiB
export const GiB = 1024 * MiB

/** Repo directory when neither `--repo` nor `$SHOAL_REPO` is given, relative to the home directory */
export const DEFAULT_REPO_DIRNAME = '.shoal'

/** Environment variable naming the repo directory */
export const REPO_ENV = 'SHOAL_REPO'

/** Import profile used by `publish` unless `--profile` says otherwise */
export const DEFAULT_PROFILE = 'unixfs-v1-2025'

/** Profiles the importer understands (IPIP-499) */
export const PROFILES = ['unixfs-v1-2025', 'unixfs-v0-2015'] as const

/** Control API address unless config or `--api` says otherwise */
export const DEFAULT_API_ADDRESS = '127.0.0.1:5080'

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

/** Requests a client may have in flight on one stream */
export const DEFAULT_MAX_REQUESTS_PER_STREAM = 64

/** Inbound exchange streams on one connection */
export const MAX_INBOUND_STREAMS_PER_CONNECTION = 8

/** Inbound exchange streams in all */
export const DEFAULT_MAX_INBOUND_STREAMS = 256

/** Peers served at once */
export const DEFAULT_UPLOAD_SLOTS = 16

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
export const MAX_PENDING_WRITES = 16 * MiB

/**
 * Size of the reusable buffers a fetch receives blocks into (the importer's chunk size, so a
 * file's leaves fit one each); larger blocks get a buffer of their own
 */
export const BLOCK_BUFFER_SIZE = MiB

/** Received-block buffers kept for reuse between blocks (a fetch holds at most its pending writes) */
export const BLOCK_BUFFERS_KEPT = MAX_PENDING_WRITES / BLOCK_BUFFER_SIZE

/**
 * Node options `shoal start` re-executes itself with (same process, see bin/shoal.ts). A block
 * passes through buffers that live a few milliseconds; a young generation this small is
 * scavenged often enough that they die there instead of being promoted and waiting for a full
 * mark-compact, and it keeps the daemon's heap (and RSS) small. Options the user gives come
 * after, so theirs win.
 */
export const DAEMON_NODE_OPTIONS = ['--max-semi-space-size=4']

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
