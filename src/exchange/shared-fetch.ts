/**
 * A fetch session and the callers that share it. A fetch of a DAG that is being fetched already
 * (a second `shoal fetch`, the gateway reading what a fetch is bringing in) joins the running
 * session instead of asking the network for every block a second time. Each caller has its own
 * progress events and its own abort; the session stops when every caller that can abort has.
 */
import { ContentTooLargeError } from '../errors.js'
import type { FetchSession } from './session.js'
import type { FetchProgressEvent, FetchResult } from './index.js'
import type { Target } from './index.js'
import type { CID } from 'multiformats/cid'

/** What a caller of `Exchange.fetch` holds */
export interface FetchHandle {
  /** Settles when every block of the DAG is in the store; rejects with the caller's abort reason */
  readonly result: Promise<FetchResult>
  /** Resolves when the block is in the store; rejects if the fetch fails first */
  blockReady(cid: CID): Promise<void>
}

interface Caller {
  onProgress?(event: FetchProgressEvent): void
  maxBytes?: number
  /** Stop being a caller: its result rejects with `reason` */
  leave(reason: unknown): void
}

export class SharedFetch {
  /** Aborts the session: given as its signal */
  private readonly controller = new AbortController()
  private readonly callers = new Set<Caller>()
  private current?: FetchSession
  /** Add a peer named by a later caller (`from`) to the session */
  addTarget: (target: Target) => void = () => {}

  get signal (): AbortSignal {
    return this.controller.signal
  }

  /** The session's progress, told to every caller; one whose limit it passes leaves */
  readonly progress = (event: FetchProgressEvent): void => {
    let over: Caller[] | undefined
    for (const caller of this.callers) {
      if (event.type === 'fetch:block' && caller.maxBytes != null && Math.max(event.bytes, event.totalBytes ?? 0) > caller.maxBytes) {
        (over ??= []).push(caller)
        continue
      }
      caller.onProgress?.(event)
    }
    // left after the loop, which leaving changes
    for (const caller of over ?? []) {
      caller.leave(new ContentTooLargeError(`${this.session.root} is larger than the ${caller.maxBytes} bytes this fetch allows`))
    }
  }

  get session (): FetchSession {
    if (this.current == null) throw new Error('no session yet')
    return this.current
  }

  set session (session: FetchSession) {
    this.current = session
    // a session that settles has no callers left to tell
    void session.result.finally(() => { this.callers.clear() }).catch(() => {})
  }

  /** A new caller of the session, with its own progress, abort and size limit */
  attach (options: { signal?: AbortSignal, onProgress?(event: FetchProgressEvent): void, maxBytes?: number }): FetchHandle {
    const session = this.session
    const signal = options.signal
    const maxBytes = options.maxBytes
    let leave!: (reason: unknown) => void
    const result = new Promise<FetchResult>((resolve, reject) => {
      leave = (reason) => {
        if (!this.callers.delete(caller)) return
        // the last caller gone: no one wants the rest
        if (this.callers.size === 0) this.controller.abort(reason)
        reject(reason)
      }
      session.result.then((r) => {
        // a DAG that was all here already sent no block events: its size is checked now
        if (maxBytes != null && r.bytes > maxBytes) reject(new ContentTooLargeError(`${session.root} is larger than the ${maxBytes} bytes this fetch allows (${r.bytes} bytes)`))
        else resolve(r)
      }, reject)
    })
    result.catch(() => {})
    const caller: Caller = { onProgress: options.onProgress, maxBytes, leave }
    this.callers.add(caller)
    if (signal != null) {
      const abort = (): void => { leave(signal.reason) }
      if (signal.aborted) abort()
      else {
        signal.addEventListener('abort', abort, { once: true })
        void session.result.finally(() => { signal.removeEventListener('abort', abort) }).catch(() => {})
      }
    }
    return {
      result,
      blockReady: async (cid) => {
        if (signal == null) {
          await session.blockReady(cid)
          return
        }
        // a caller that left stops waiting, though the session goes on for others
        signal.throwIfAborted()
        const ready = session.blockReady(cid)
        ready.catch(() => {})
        let abort: (() => void) | undefined
        try {
          await Promise.race([
            ready,
            new Promise<never>((resolve, reject) => {
              abort = () => { reject(signal.reason) }
              signal.addEventListener('abort', abort, { once: true })
            })
          ])
        } finally {
          if (abort != null) signal.removeEventListener('abort', abort)
        }
      }
    }
  }
}
