/**
 * Records in the DHT under `/ipns/<multihash>`: the newest valid one found, and putting one to
 * the closest peers. The host's kad-dht checks records with the `ipns` validator and keeps the
 * newest with its selector; every record found is checked again here, as from any source.
 */
import { InvalidRecordError } from '../errors.js'
import { checkRecord, isNewer } from './records.js'
import type { IpnsName } from './records.js'
import type { Logger } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { IPNSRecord } from 'ipns'

const second = 1000
/** How long a lookup waits for the DHT; what was found by then counts */
export const LOOKUP_TIMEOUT = 10 * second
/** How long a put waits for the DHT to take the record (gossip has it at once) */
export const PUT_TIMEOUT = 20 * second

export interface DhtOptions {
  dht: Pick<KadDHT, 'put' | 'get'>
  log: Logger
  signals: AbortSignal[]
}

/** The newest valid record of a name in the DHT, if any is found in time */
export async function newestInDht (name: IpnsName, options: DhtOptions): Promise<{ record: IPNSRecord, bytes: Uint8Array } | undefined> {
  let best: { record: IPNSRecord, bytes: Uint8Array } | undefined
  try {
    for await (const e of options.dht.get(name.routingKey, { signal: AbortSignal.any([AbortSignal.timeout(LOOKUP_TIMEOUT), ...options.signals]) })) {
      if (e.name !== 'VALUE') continue
      try {
        const record = await checkRecord(name, e.value)
        if (isNewer(record, best?.record)) best = { record, bytes: e.value }
      } catch (err) {
        if (!(err instanceof InvalidRecordError)) throw err
        options.log('a DHT record of %s from %p is refused: %s', name.name, e.from, err.message)
      }
    }
  } catch (err: any) {
    // none found, or the time ran out: what was found so far counts
    options.log('DHT lookup of %s: %s', name.name, err.message)
  }
  return best
}

/** Put a record in the DHT; resolves with how many peers took it */
export async function putInDht (name: IpnsName, bytes: Uint8Array, options: DhtOptions): Promise<number> {
  let took = 0
  try {
    for await (const e of options.dht.put(name.routingKey, bytes, { signal: AbortSignal.any([AbortSignal.timeout(PUT_TIMEOUT), ...options.signals]) })) {
      if (e.name === 'PEER_RESPONSE') took++
    }
  } catch (err: any) {
    options.log('DHT put of %s: %s', name.name, err.message)
  }
  return took
}
