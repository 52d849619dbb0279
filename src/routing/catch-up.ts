/**
 * Provide what this peer holds but never provided: content published or imported while no
 * daemon ran (offline commands load nothing of the network), or whose provide failed. As a
 * peer goes online it looks through its pins, once it has a DHT peer to talk to, and provides each
 * root the DHT's own records do not already name this peer for; kad-dht's reprovider keeps the
 * records fresh from then on (it only renews records it holds, so without this step such content
 * would never be found through the DHT).
 */
import type { AbortOptions, Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

const second = 1000
/** How often it looks for a DHT peer before the first provide */
const PEER_POLL = 2 * second
/** One provide's longest run */
const PROVIDE_TIMEOUT = 60 * second

export interface CatchUpComponents {
  /** Roots pinned in the store */
  roots(): Promise<CID[]>
  /** Whether the DHT's records name this peer as a provider of `cid` already */
  provided(cid: CID): Promise<boolean>
  provide(cid: CID, options: AbortOptions): Promise<{ accepted: number }>
  /** DHT peers this peer could send a record to now */
  dhtPeers(): number
  log: Logger
}

/**
 * Provide, one after another, every pinned root not provided yet, from the first moment a DHT
 * peer is known; stops with `signal`. Resolves with how many roots it provided.
 */
export async function provideUnprovided (components: CatchUpComponents, signal: AbortSignal): Promise<number> {
  while (components.dhtPeers() === 0) {
    await sleep(PEER_POLL, signal)
  }
  let provided = 0
  for (const cid of await components.roots()) {
    signal.throwIfAborted()
    if (await components.provided(cid)) continue
    try {
      const { accepted } = await components.provide(cid, { signal: AbortSignal.any([signal, AbortSignal.timeout(PROVIDE_TIMEOUT)]) })
      components.log('provided %c, held but never provided, to %d peers', cid, accepted)
      provided++
    } catch (err: any) {
      signal.throwIfAborted()
      components.log('could not provide %c: %s', cid, err.message)
    }
  }
  return provided
}

async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(signal.reason) }
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
