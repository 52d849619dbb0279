import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p, Logger } from '@libp2p/interface'

export interface BootstrapKeeperInit {
  host: Pick<Libp2p, 'dial' | 'getPeers'>
  log: Logger
  /** Multiaddrs with /p2p/ */
  list: string[]
  /** The first wait between two rounds of dials; it doubles while every dial fails */
  intervalMs: number
  /** The longest wait between two rounds */
  maxIntervalMs: number
}

/** What a failed dial says about the network, from its error (its cause's system code) */
export function dialFailure (err: any): string {
  const codes = [err?.code, err?.cause?.code, ...(Array.isArray(err?.errors) ? err.errors.map((e: any) => e?.code ?? e?.cause?.code) : [])]
  const text = `${String(err?.name)} ${String(err?.message)}`
  if (codes.some(c => c === 'ENOTFOUND' || c === 'EAI_AGAIN') || /dns|resolv/i.test(text)) return 'DNS lookup failed'
  if (codes.includes('ECONNREFUSED')) return 'refused'
  if (codes.some(c => c === 'ENETUNREACH' || c === 'EHOSTUNREACH')) return 'no route'
  if (codes.includes('ETIMEDOUT') || /abort|timeout|timed out/i.test(text)) return 'timed out'
  return String(err?.message ?? err).split('\n')[0]
}

/**
 * Dials the bootstrap peers whenever this peer has no connection at all: a first dial that
 * failed (the bootstrap peer was down or slow) or a network that came back must not leave a peer
 * alone for good. While every dial fails it waits longer between rounds (doubling up to
 * `maxIntervalMs`) and says what failed in one line (`problem`), in the log and for `shoal
 * id`/`stats`/`status`. Connected peers are left alone; the DHT and membership find the rest.
 */
export class BootstrapKeeper {
  private readonly init: BootstrapKeeperInit
  private timer?: ReturnType<typeof setTimeout>
  private controller?: AbortController
  private wait: number
  /** Why no bootstrap peer answered the last round; undefined while connected */
  problem?: string

  constructor (init: BootstrapKeeperInit) {
    this.init = init
    this.wait = init.intervalMs
  }

  start (): void {
    if (this.controller != null || this.init.list.length === 0) return
    this.controller = new AbortController()
    this.schedule(this.init.intervalMs)
  }

  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.controller?.abort()
    this.controller = undefined
  }

  private schedule (ms: number): void {
    if (this.controller == null) return
    this.timer = setTimeout(() => {
      void this.check().finally(() => { this.schedule(this.wait) })
    }, ms)
    this.timer.unref?.()
  }

  private async check (): Promise<void> {
    if (this.init.host.getPeers().length > 0) {
      this.problem = undefined
      this.wait = this.init.intervalMs
      return
    }
    const signal = this.controller?.signal
    const failures: string[] = []
    await Promise.all(this.init.list.map(async (a) => {
      try {
        await this.init.host.dial(multiaddr(a), { signal })
        this.init.log('dialled bootstrap peer %s', a)
      } catch (err: any) {
        failures.push(dialFailure(err))
      }
    }))
    if (signal?.aborted === true) return
    if (failures.length < this.init.list.length) {
      this.problem = undefined
      this.wait = this.init.intervalMs
      return
    }
    const counts = new Map<string, number>()
    for (const f of failures) counts.set(f, (counts.get(f) ?? 0) + 1)
    this.wait = Math.min(this.wait * 2, this.init.maxIntervalMs)
    this.problem = `none of ${this.init.list.length} bootstrap peer(s) answered (${[...counts].map(([what, n]) => `${n} ${what}`).join(', ')}); trying again in ${Math.round(this.wait / 1000)} s`
    this.init.log.error(this.problem)
  }
}
