/** The gossip simulator: shoal's presence core and validation, many peers, one process (docs/gossip.md) */
import { Swarm } from './swarm.js'
import { peerIds, wireSizes } from './wire.js'
import type { SimInit, SimResult } from './swarm.js'

export type { Design, SimInit, SimResult, Spread } from './swarm.js'

export interface Measured extends SimResult {
  /** Heap held by one live peer's presence core (its membership table), bytes; needs --expose-gc */
  membershipBytesPerPeer?: number
}

/** Build a swarm, run it, and measure what its presence cores hold in memory */
export async function simulate (init: SimInit): Promise<Measured> {
  const wire = await wireSizes()
  const ids = await peerIds(init.peers + (init.churn?.joins ?? 0))
  const swarm = new Swarm(init, wire, ids)
  const result: Measured = await swarm.run()
  const gc = (globalThis as any).gc as (() => void) | undefined
  if (gc != null) {
    gc()
    const before = process.memoryUsage().heapUsed
    const n = swarm.dropCores()
    gc()
    result.membershipBytesPerPeer = n > 0 ? Math.max(0, before - process.memoryUsage().heapUsed) / n : undefined
  }
  return result
}
