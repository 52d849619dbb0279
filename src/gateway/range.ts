import { MAX_GATEWAY_RANGES } from '../constants.js'

/** An inclusive byte range, as in HTTP */
export interface ByteRange {
  start: number
  end: number
}

/**
 * What a `Range` header asks of a resource of `size` bytes (RFC 9110 §14):
 * - `undefined`: no usable Range (absent, another unit, or malformed): serve the whole
 * - `'unsatisfiable'`: no range overlaps the resource (416)
 * - `'too-many'`: more ranges than the gateway serves in one response (416)
 * - ranges, each clipped to the resource, in the order asked; overlapping ones are merged
 */
export function parseRange (header: string | undefined, size: number): ByteRange[] | 'unsatisfiable' | 'too-many' | undefined {
  if (header == null) return undefined
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header)
  if (m?.[1] == null) return undefined
  const specs = m[1].split(',').map(s => s.trim()).filter(s => s !== '')
  if (specs.length === 0) return undefined
  if (specs.length > MAX_GATEWAY_RANGES) return 'too-many'
  const ranges: ByteRange[] = []
  for (const spec of specs) {
    const r = /^(\d*)\s*-\s*(\d*)$/.exec(spec)
    if (r == null || (r[1] === '' && r[2] === '')) return undefined
    if (r[1] === '') {
      // suffix range: the last N bytes
      const n = Number(r[2])
      if (!Number.isSafeInteger(n)) return undefined
      if (n === 0 || size === 0) continue
      ranges.push({ start: Math.max(0, size - n), end: size - 1 })
      continue
    }
    const start = Number(r[1])
    const end = r[2] === '' ? Number.MAX_SAFE_INTEGER : Number(r[2])
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined
    if (start >= size) continue
    ranges.push({ start, end: Math.min(end, size - 1) })
  }
  if (ranges.length === 0) return 'unsatisfiable'
  return overlapping(ranges) ? coalesce(ranges) : ranges
}

function overlapping (ranges: ByteRange[]): boolean {
  const sorted = [...ranges].sort((a, b) => a.start - b.start)
  return sorted.some((r, i) => i > 0 && r.start <= sorted[i - 1].end)
}

/**
 * Overlapping ranges merged (with those that touch them), in order of offset: a response never
 * carries a byte twice, so a short header cannot ask for a body many times the file's size
 * (RFC 9110 §14.2 lets a server coalesce them)
 */
function coalesce (ranges: ByteRange[]): ByteRange[] {
  const merged: ByteRange[] = []
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    const last = merged.at(-1)
    if (last != null && r.start <= last.end + 1) last.end = Math.max(last.end, r.end)
    else merged.push({ ...r })
  }
  return merged
}

/** The parts of a `multipart/byteranges` body and its exact length */
export function multipartLayout (ranges: ByteRange[], size: number, contentType: string, boundary: string): { parts: Array<{ head: string, range: ByteRange }>, tail: string, length: number } {
  let length = 0
  const parts = ranges.map((range, i) => {
    const head = `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Range: bytes ${range.start}-${range.end}/${size}\r\n\r\n`
    length += Buffer.byteLength(head) + range.end - range.start + 1
    return { head, range }
  })
  const tail = `\r\n--${boundary}--\r\n`
  length += Buffer.byteLength(tail)
  return { parts, tail, length }
}
