import { second } from '../constants.js'
import { CONFIG_DEFAULTS } from '../defaults.js'
import type { Routing } from './index.js'
import type { Libp2p, Logger } from '@libp2p/interface'

export interface RendezvousInit {
  routing: Pick<Routing, 'provide' | 'findProviders' | 'rendezvousKey'>
  host: Pick<Libp2p, 'peerId' | 'dial' | 'getConnections'>
  log: Logger
  intervalMs?: number
  /** Swarm peers dialled per round */
  dialLimit: number
}

/**
 * Finds the other peers of a swarm in a DHT shared with strangers (the public one): every
 * member provides the swarm's rendezvous key and looks it up, and dials the members it finds,
 * so they meet on the swarm's gossip topics. Rounds come quickly (from 1 s, doubling) until this
 * peer's record has been accepted somewhere, then every `intervalMs`.
 */
export class Rendezvous {
  private readonly init: RendezvousInit
  private timer?: ReturnType<typeof setTimeout>
  private controller?: AbortController
  private running?: Promise<void>
  private provided = false
  private backoff = second

  constructor (init: RendezvousInit) {
    this.init = init
  }

  start (): void {
    if (this.controller != null) return
    this.controller = new AbortController()
    this.schedule(second)
  }

  async stop (): Promise<void> {
    clearTimeout(this.timer)
    this.controller?.abort()
    this.controller = undefined
    await this.running?.catch(() => {})
  }

  private schedule (ms: number): void {
    this.timer = setTimeout(() => {
      this.running = this.round().catch((err) => { this.init.log('rendezvous round failed: %s', err.message) })
      void this.running.finally(() => {
        if (this.controller == null) return
        const next = this.provided ? (this.init.intervalMs ?? CONFIG_DEFAULTS.discovery.rendezvousIntervalMs) : this.backoff
        this.backoff = Math.min(this.backoff * 2, this.init.intervalMs ?? CONFIG_DEFAULTS.discovery.rendezvousIntervalMs)
        this.schedule(next)
      })
    }, ms)
    this.timer.unref?.()
  }

  private async round (): Promise<void> {
    const signal = this.controller?.signal
    if (signal == null || this.init.host.getConnections().length === 0) return
    const key = await this.init.routing.rendezvousKey
    if (!this.provided) {
      // the DHT's reprovider keeps the record fresh once it is out
      const { accepted } = await this.init.routing.provide(key, { signal })
      this.provided = accepted > 0
      this.init.log('provided rendezvous key %s to %d peers', key, accepted)
    }
    const connected = new Set(this.init.host.getConnections().map(c => c.remotePeer.toString()))
    let dialled = 0
    for await (const p of this.init.routing.findProviders(key, { signal, limit: this.init.dialLimit * 4 })) {
      if (connected.has(p.id.toString())) continue
      if (dialled++ >= this.init.dialLimit) break
      await this.init.host.dial(p.id, { signal }).then(
        () => { this.init.log('met swarm peer %p', p.id) },
        (err) => { this.init.log('could not dial swarm peer %p: %s', p.id, err.message) }
      )
    }
  }
}
