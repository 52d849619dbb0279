import { BULK_TRANSFER, BULK_TRANSFER_COLLECT_DELAY } from '../constants.js'

/**
 * A full garbage collection once bulk transfers are over.
 *
 * Bytes stream through buffers that die young, but some are promoted before they die, and
 * promoted buffers hold their memory until a full collection, which a daemon that has gone
 * quiet may not run for a long time. The memory then stays in the process and the next
 * transfer starts from there, so peak RSS creeps up from one transfer to the next
 * (docs/performance.md). One collection is short, and runs once transfers of at least
 * BULK_TRANSFER bytes in all have ended since the last one, after BULK_TRANSFER_COLLECT_DELAY
 * without another ending: a transfer told of in parts (bitswap answers a peer's wants message by
 * message, see bitswap/server.ts) counts as a whole.
 */
export interface TransferCollector {
  /** A transfer of `bytes` ended */
  ended(bytes: number): void
}

/**
 * The collector of a process where `gc` exists (the daemon runs with `--expose-gc`, among
 * DAEMON_NODE_OPTIONS); where it does not (tests, embedders), one that collects nothing
 */
export function processCollector (): TransferCollector {
  const gc = (globalThis as { gc?: () => void }).gc
  return transferCollector(typeof gc === 'function' ? () => { gc() } : undefined)
}

export function transferCollector (collect: (() => void) | undefined, minBytes = BULK_TRANSFER, delayMs = BULK_TRANSFER_COLLECT_DELAY): TransferCollector {
  let timer: ReturnType<typeof setTimeout> | undefined
  /** Bytes of transfers ended since the last collection */
  let moved = 0
  return {
    ended (bytes) {
      if (collect == null || !(bytes > 0)) return
      moved += bytes
      if (moved < minBytes) return
      clearTimeout(timer)
      timer = setTimeout(() => {
        timer = undefined
        moved = 0
        collect()
      }, delayMs)
      timer.unref()
    }
  }
}
