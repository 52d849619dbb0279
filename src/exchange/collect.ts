import { BULK_TRANSFER, BULK_TRANSFER_COLLECT_DELAY } from '../constants.js'

/**
 * A full garbage collection once bulk transfers are over.
 *
 * Bytes stream through buffers that die young, but some are promoted before they die, and
 * promoted buffers hold their memory until a full collection, which a daemon that has gone
 * quiet may not run for a long time. The memory then stays in the process and the next
 * transfer starts from there, so peak RSS creeps up from one transfer to the next
 * (docs/performance.md). One collection is short, and runs once per transfer of at least
 * BULK_TRANSFER bytes, after BULK_TRANSFER_COLLECT_DELAY without another ending.
 */
export interface TransferCollector {
  /** A transfer of `bytes` ended */
  ended(bytes: number): void
}

export function transferCollector (collect: (() => void) | undefined, minBytes = BULK_TRANSFER, delayMs = BULK_TRANSFER_COLLECT_DELAY): TransferCollector {
  let timer: ReturnType<typeof setTimeout> | undefined
  return {
    ended (bytes) {
      if (collect == null || !(bytes >= minBytes)) return
      clearTimeout(timer)
      timer = setTimeout(() => {
        timer = undefined
        collect()
      }, delayMs)
      timer.unref()
    }
  }
}

/**
 * The process's collector: `gc` exists where the daemon runs (`--expose-gc` is among
 * DAEMON_NODE_OPTIONS); elsewhere (tests, embedders) nothing is collected
 */
export const transfers = transferCollector(typeof (globalThis as any).gc === 'function' ? () => { (globalThis as any).gc() } : undefined)
