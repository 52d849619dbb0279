/**
 * One error class per condition. Callers branch on `err.name`, never on the message.
 * Every error that reaches the CLI carries a message that names the problem and what to do.
 * Errors say nothing of HTTP: the edges that answer HTTP choose the status (http-status.ts).
 */

export class ShoalError extends Error {
  constructor (message: string) {
    super(message)
    this.name = new.target.name
  }
}

export class InvalidCIDError extends ShoalError {
  constructor (input: string) {
    super(`invalid CID "${truncate(input)}": expected a CID such as bafy... or Qm...`)
  }
}

export class InvalidPathError extends ShoalError {
}

export class InvalidProfileError extends ShoalError {
  constructor (profile: string, known: readonly string[]) {
    super(`unknown profile "${truncate(profile)}": use one of ${known.join(', ')}`)
  }
}

export class InvalidArgumentError extends ShoalError {
}

export class PathNotFoundError extends ShoalError {
}

export class BlockNotFoundError extends ShoalError {
}

export class NotPinnedError extends ShoalError {
}

export class BlockTooLargeError extends ShoalError {
}

/** A DAG turned out larger than the fetch allowed (a replica larger than announced) */
export class ContentTooLargeError extends ShoalError {
}

export class InvalidBlockError extends ShoalError {
}

/** A peer sent a protocol message that breaks the protocol's framing or limits */
export class InvalidMessageError extends ShoalError {
}

export class RepoNotInitializedError extends ShoalError {
  constructor (repo: string) {
    super(`no shoal repo at ${repo}: run "shoal init" (or pass --repo DIR)`)
  }
}

export class RepoExistsError extends ShoalError {
  constructor (repo: string) {
    super(`a shoal repo already exists at ${repo}: use it, or pass --repo DIR for a new one`)
  }
}

export class RepoLockedError extends ShoalError {
  constructor (repo: string, pid: number) {
    super(`repo ${repo} is in use by process ${pid}: stop it first, or pass --repo DIR for another repo`)
  }
}

export class InvalidConfigError extends ShoalError {
}

/**
 * The store could not take (or give back) a block: the disk is full, read-only or failing. A
 * fetch stops at once with this (no peer is to blame); what was stored before stays, so it
 * resumes later.
 */
export class StoreWriteError extends ShoalError {
  /** The system error's code (ENOSPC, EROFS, EIO, ...) */
  readonly code: string
  constructor (what: string, cause: Error & { code: string }, doing: 'store' | 'read' = 'store') {
    const full = cause.code === 'ENOSPC' || cause.code === 'EDQUOT'
    super(full
      ? `no space left to store ${what}: free space on the repo's disk, then run the same command again to resume`
      : `cannot ${doing} ${what}: ${cause.message.split('\n')[0]}`)
    this.code = cause.code
  }

  /** The error to fail with when storing failed with `err`: a StoreWriteError for system errors */
  static from (what: string, err: unknown, doing: 'store' | 'read' = 'store'): unknown {
    const code = (err as { code?: unknown })?.code
    return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? new StoreWriteError(what, err as Error & { code: string }, doing) : err
  }
}

export class DaemonNotRunningError extends ShoalError {
  constructor (repo: string, what: string) {
    super(`${what} needs a running daemon and none is running for repo ${repo}: start one with "shoal start"`)
  }
}

/** A call that writes, made of a repo opened for reading only (without its lock) */
export class RepoReadOnlyError extends ShoalError {
  constructor (repo: string, what: string) {
    super(`${what} writes to repo ${repo}, which this process opened for reading only: open it for writing, under its lock`)
  }
}

/** A daemon holds the repo but has not served its control API in the time a command waits */
export class DaemonNotReadyError extends ShoalError {
  constructor (repo: string, pid: number, what: string) {
    super(`${what} needs the daemon of repo ${repo} (pid ${pid}), which has not served its control API yet: see its log, or try again once it prints "ready"`)
  }
}

/** A daemon started as a child process (`spawnDaemon`) did not print its ready line */
export class DaemonSpawnError extends ShoalError {
  constructor (repo: string, why: string, stderr: string) {
    const said = stderr.trim()
    super(`the daemon of repo ${repo} ${why}${said !== '' ? `; its stderr ends:\n${said.slice(-4000)}` : ''}`)
  }
}

export class ListenError extends ShoalError {}

export class ApiUnreachableError extends ShoalError {
}

export class ApiAuthError extends ShoalError {
}

export class UsageError extends ShoalError {
}

/**
 * An error reported by a daemon through the control API. It takes the name the daemon's
 * error had, so callers branch on `err.name` the same way whichever `ShoalApi` they hold.
 */
export class RemoteError extends ShoalError {
  /** The HTTP status the daemon answered with */
  readonly status: number
  constructor (name: string, message: string, status: number) {
    super(message)
    this.name = name
    this.status = status
  }
}

function truncate (s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max)}...` : s
}

/** The gateway could not get the content within its retrieval timeout (HTTP 504) */
export class GatewayTimeoutError extends ShoalError {
  constructor (what: string, ms: number) {
    super(`could not retrieve ${what} within ${ms} ms: no peer served it in time`)
  }
}

/** A CAR file that cannot be read, or whose blocks do not match their CIDs */
export class InvalidCarError extends ShoalError {
}

/** A CAR whose roots' DAGs are not complete, so they cannot be pinned */
export class IncompleteCarError extends ShoalError {
}

/**
 * A pin record that cannot be read: the DAG it pins is unknown, so what would need it cannot be
 * told apart from what would not (gc refuses to run)
 */
export class UnreadablePinError extends ShoalError {
  /** The record's path */
  readonly file: string

  constructor (what: string, record: { file: string, cid?: { toString(): string }, reason: string }, more = 0) {
    const fix = record.cid != null
      ? `fix it, write it anew with "shoal pin add ${record.cid.toString()}", or remove it with "shoal pin rm ${record.cid.toString()}"`
      : 'fix it or delete it'
    super(`${what}: the pin record ${record.file} cannot be read (${record.reason}): ${fix}${more > 0 ? ` (${more} more unreadable pin record${more > 1 ? 's' : ''})` : ''}`)
    this.file = record.file
  }
}

/** An output path (`-o`) that exists already, given without `--force` */
export class OutputExistsError extends ShoalError {
}

/** A file system call on an output path failed; the message names the path the user gave */
export class OutputWriteError extends ShoalError {
}

/** A dial of a peer failed; the message says what it met (timeout, refused, another identity) */
export class ConnectFailedError extends ShoalError {
}

/** A key of the repo's keychain that is not there */
export class KeyNotFoundError extends ShoalError {
  constructor (name: string) {
    super(`no key named "${truncate(name)}": list keys with "shoal key ls", or make one with "shoal key gen ${truncate(name)}"`)
  }
}

/** A key name already taken; the key it names is kept */
export class KeyExistsError extends ShoalError {
  constructor (name: string) {
    super(`a key named "${truncate(name)}" already exists: remove it first with "shoal key rm ${truncate(name)}", or pick another name`)
  }
}

/** Not an IPNS name (`k51...`, a peer id, or either after `/ipns/`) */
export class InvalidNameError extends ShoalError {
}

/** Why a record is refused; `InvalidRecordError.reason` */
export type RecordRejection = 'too-large' | 'malformed' | 'bad-signature' | 'wrong-key' | 'expired' | 'lower-sequence'

/** An IPNS record that is refused: `reason` says why, the message says so in words */
export class InvalidRecordError extends ShoalError {
  readonly reason: RecordRejection
  constructor (reason: RecordRejection, message: string) {
    super(message)
    this.reason = reason
  }
}

/** No record of a name was found here, on gossip or in the DHT */
export class NameNotFoundError extends ShoalError {
}

/**
 * The file of a name's reserved sequences (`names/sequences/<k51...>`) cannot be read: no record
 * of the name is signed, as its next sequence is unknown
 */
export class UnreadableSequenceError extends ShoalError {
}

/**
 * A peer that holds the content can be reached only over a limited relayed connection (a relay's
 * per-circuit byte or time budget), too small to carry content, and no direct connection could be
 * made. The message names the peer, the relay and its limits.
 */
export class PeerUnreachableError extends ShoalError {
}
