import { createHash } from 'node:crypto'

/** Deterministic bytes that differ per seed (so DAGs only share blocks when meant to) */
export function bytesOf (seed: string, size: number): Uint8Array {
  const out = new Uint8Array(size)
  let block = createHash('sha256').update(seed).digest()
  for (let off = 0; off < size; off += block.byteLength) {
    out.set(block.subarray(0, Math.min(block.byteLength, size - off)), off)
    block = createHash('sha256').update(block).digest()
  }
  return out
}
