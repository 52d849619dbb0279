/**
 * Progress over the control API: a fetch makes one `fetch:block` event per block (a thousand a
 * second on loopback), and each one sent costs a write in the daemon and a parse and a write in
 * the CLI, on the same cores as the transfer. Block events go out at most every
 * FETCH_PROGRESS_INTERVAL, the latest one; any other event goes out at once, after the block
 * event it would otherwise overtake. `close` sends the held one and ends the stream of events, so
 * the last block event always arrives before the result, and nothing after it.
 */
import { FETCH_PROGRESS_INTERVAL } from '../constants.js'
import type { FetchProgressEvent } from '../exchange/index.js'

export interface SampledProgress {
  push(event: FetchProgressEvent): void
  /** Send the held block event, if any */
  flush(): void
  /** Flush, and drop whatever is pushed from now on (events of a fetch that has ended) */
  close(): void
}

export function sampledProgress (send: (event: FetchProgressEvent) => void, interval = FETCH_PROGRESS_INTERVAL): SampledProgress {
  let lastSent = -Infinity
  let held: FetchProgressEvent | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  let closed = false
  const flush = (): void => {
    clearTimeout(timer)
    timer = undefined
    if (held == null) return
    const event = held
    held = undefined
    lastSent = performance.now()
    send(event)
  }
  return {
    push (event) {
      if (closed) return
      if (event.type !== 'fetch:block') {
        flush()
        send(event)
        return
      }
      held = event
      const wait = lastSent + interval - performance.now()
      if (wait <= 0) flush()
      // a stalled fetch still shows its last block within the interval
      else timer ??= setTimeout(flush, wait)
    },
    flush,
    close () {
      flush()
      closed = true
    }
  }
}
