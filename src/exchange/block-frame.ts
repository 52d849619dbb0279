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

/** Longest head `blockResponseHead` writes after the length prefix: id, block and data tags and lengths */
export const MAX_BLOCK_HEAD = 1 + 5 + 1 + 5 + 1 + 5

/**
 * The inverse of `blockResponseHead`, for the client's hot path: given the first bytes of a
 * `Response` (after its length prefix, at most `MAX_BLOCK_HEAD`) and the message's length, tell
 * whether the message is exactly `Response{id, block{data}}` as `Response.encode` writes it, and
 * where the data starts. Then the block can stay in the chunks it arrived in, with no copy into
 * one buffer for the decoder. Anything else (another shape, field order or an empty block) gives
 * undefined and is decoded with `Response.decode`.
 */
export function parseBlockResponseHead (head: Uint8Array, messageLength: number): { id: number, dataOffset: number } | undefined {
  let o = 0
  let id = 0
  const readVarint = (): number | undefined => {
    let value = 0
    for (let shift = 0; shift < 35 && o < head.byteLength; shift += 7) {
      const b = head[o++]
      value += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return value
    }
    return undefined
  }
  if (head[o] === 0x08) {
    o++
    const v = readVarint()
    // uint32 as protons reads it; larger values are left to the decoder
    if (v == null || v === 0 || v > 0xffffffff) return undefined
    id = v
  }
  if (head[o++] !== 0x1a) return undefined
  const blockLength = readVarint()
  if (blockLength == null || o + blockLength !== messageLength) return undefined
  if (head[o++] !== 0x0a) return undefined
  const dataLength = readVarint()
  if (dataLength == null || dataLength === 0 || o + dataLength !== messageLength) return undefined
  return { id, dataOffset: o }
}
