import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p, Logger } from '@libp2p/interface'

export interface BootstrapKeeperInit {
  host: Pick<Libp2p, 'dial' | 'getPeers'>
  log: Logger
  /** Multiaddrs with /p2p/ */
  list: string[]
  intervalMs: number
}

/**
 * Dials the bootstrap peers again whenever this peer has no connection at all: a first dial that
 * failed (the bootstrap peer was down or slow) or a network that came back must not leave a peer
 * alone for good. Connected peers are left alone; the DHT and membership find the rest.
 */
export class BootstrapKeeper {
  private readonly init: BootstrapKeeperInit
  private timer?: ReturnType<typeof setInterval>
  private dialling = false
  private controller?: AbortController

  constructor (init: BootstrapKeeperInit) {
    this.init = init
  }

  start (): void {
    if (this.timer != null || this.init.list.length === 0) return
    this.controller = new AbortController()
    this.timer = setInterval(() => { void this.check() }, this.init.intervalMs)
    this.timer.unref?.()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.controller?.abort()
  }

  private async check (): Promise<void> {
    if (this.dialling || this.init.host.getPeers().length > 0) return
    this.dialling = true
    try {
      const signal = this.controller?.signal
      await Promise.all(this.init.list.map(async (a) => {
        try {
          await this.init.host.dial(multiaddr(a), { signal })
          this.init.log('re-dialled bootstrap peer %s', a)
        } catch (err: any) {
          this.init.log('bootstrap peer %s did not answer: %s', a, err.message)
        }
      }))
    } finally {
      this.dialling = false
    }
  }
}
