import type { Stream } from '@libp2p/interface'
import type { LengthPrefixedStream } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * The length-prefixed messages a peer sends on `stream` (read through `lp`, whose limits were
 * checked before each message was kept), until the peer closes its end. A stream aborted or reset
 * under the reader ends the same way as a closed one, so it is told apart by its status and
 * thrown, like any other read error.
 */
export async function * lpMessages (lp: LengthPrefixedStream<Stream>, stream: Stream): AsyncGenerator<Uint8ArrayList> {
  while (true) {
    let bytes: Uint8ArrayList
    try {
      bytes = await lp.read()
    } catch (err: any) {
      if (err.name === 'UnexpectedEOFError' && !aborted(stream)) return
      throw err
    }
    yield bytes
  }
}

/** Whether a stream was aborted or reset (by either side) */
export function aborted (stream: Stream): boolean {
  return stream.status === 'aborted' || stream.status === 'reset'
}
