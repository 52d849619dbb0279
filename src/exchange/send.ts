import * as varint from 'uint8-varint'
import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

/** Send bytes on a stream, waiting for it to drain when its send buffer is full */
export async function send (stream: Stream, data: Uint8Array | Uint8ArrayList): Promise<void> {
  if (stream.send(data)) return
  await new Promise<void>((resolve, reject) => {
    const onDrain = (): void => { stream.removeEventListener('close', onClose); resolve() }
    const onClose = (): void => { stream.removeEventListener('drain', onDrain); reject(new Error('stream closed')) }
    stream.addEventListener('drain', onDrain, { once: true })
    stream.addEventListener('close', onClose, { once: true })
  })
}

/** A message with its unsigned-varint length prefix, in one buffer (one frame on the wire) */
export function lengthPrefixed (message: Uint8Array): Uint8Array {
  const prefix = varint.encodingLength(message.byteLength)
  const frame = new Uint8Array(prefix + message.byteLength)
  varint.encode(message.byteLength, frame)
  frame.set(message, prefix)
  return frame
}
