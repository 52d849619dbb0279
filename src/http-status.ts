/**
 * The HTTP status an error is answered with, chosen at the edges that speak HTTP (the control API,
 * the gateway) and nowhere else: shoal's errors name their condition, and this table says what
 * each condition is to an HTTP client. The CLI's exit code follows from it (2 for bad input).
 */
import { RemoteError } from './errors.js'

const STATUS: Readonly<Record<string, number>> = {
  // bad input
  InvalidCIDError: 400,
  InvalidPathError: 400,
  InvalidProfileError: 400,
  InvalidArgumentError: 400,
  InvalidBlockError: 400,
  InvalidCarError: 400,
  IncompleteCarError: 400,
  UsageError: 400,
  OutputExistsError: 400,
  InvalidNameError: 400,
  InvalidRecordError: 400,
  ApiAuthError: 401,
  PathNotFoundError: 404,
  BlockNotFoundError: 404,
  NotPinnedError: 404,
  KeyNotFoundError: 404,
  NameNotFoundError: 404,
  KeyExistsError: 409,
  BlockTooLargeError: 413,
  ContentTooLargeError: 413,
  // a peer broke a protocol's framing or limits
  InvalidMessageError: 502,
  // a peer that has the content is behind a NAT, reachable only through a limited relay
  PeerUnreachableError: 502,
  DaemonNotRunningError: 503,
  DaemonNotReadyError: 503,
  GatewayTimeoutError: 504
}

/** The HTTP status for `err`; 500 for a condition the table does not know */
export function httpStatusOf (err: unknown): number {
  // an error a daemon reported keeps the status it was answered with
  if (err instanceof RemoteError) return err.status
  const e = err as { name?: unknown, code?: unknown } | undefined
  if (e?.name === 'StoreWriteError') return e.code === 'ENOSPC' || e.code === 'EDQUOT' ? 507 : 500
  return typeof e?.name === 'string' ? STATUS[e.name] ?? 500 : 500
}

/** Whether `err` is about the input given (HTTP 400; the CLI exits 2) */
export function isBadInput (err: unknown): boolean {
  return httpStatusOf(err) === 400
}
