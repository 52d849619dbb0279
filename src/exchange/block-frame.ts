import * as varint from 'uint8-varint'

/**
 * The framing of a `Response{id, block{data}}`, encoded by hand so a block is never copied into
 * a protobuf buffer: the returned head (length prefix, field tags and lengths) goes on the wire
 * followed by the block bytes themselves. Byte for byte what `Response.encode` gives
 * (test/exchange/block-frame.spec.ts checks it).
 */
export function blockResponseHead (id: number, dataLength: number): Uint8Array {
  // Block message: field 1 (data), wire type 2; proto3 leaves an empty field out
  const blockLen = dataLength === 0 ? 0 : 1 + varint.encodingLength(dataLength) + dataLength
  // Response message: field 1 (id) varint unless 0, field 3 (block) wire type 2
  const idLen = id !== 0 ? 1 + varint.encodingLength(id) : 0
  const responseLen = idLen + 1 + varint.encodingLength(blockLen) + blockLen
  const headLen = varint.encodingLength(responseLen) + responseLen - dataLength
  const head = new Uint8Array(headLen)
  let o = 0
  varint.encode(responseLen, head, o)
  o += varint.encodingLength(responseLen)
  if (id !== 0) {
    head[o++] = 0x08
    varint.encode(id, head, o)
    o += varint.encodingLength(id)
  }
  head[o++] = 0x1a
  varint.encode(blockLen, head, o)
  o += varint.encodingLength(blockLen)
  if (dataLength > 0) {
    head[o++] = 0x0a
    varint.encode(dataLength, head, o)
  }
  return head
}
