import { fileTypeFromBuffer } from 'file-type'
import mime from 'mime'

/** Sniffed types by CID: content never changes, so a type sniffed once holds for good */
const sniffed = new Map<string, string>()
const SNIFF_CACHE_ENTRIES = 4096

/**
 * A file's Content-Type: from its name's extension when that is known, else sniffed from its
 * first bytes (binary signatures, then HTML, then UTF-8 text), else `application/octet-stream`.
 * Sniffed types are remembered by CID (the most recent few thousand), so a range request for a
 * file seen before reads only the blocks of its range.
 */
export async function contentTypeOf (name: string | undefined, cid: string, head: () => Promise<Uint8Array>): Promise<string> {
  const byName = name != null && name.includes('.') ? mime.getType(name) : null
  if (byName != null) return withCharset(byName)
  const known = sniffed.get(cid)
  if (known != null) return known
  const type = await sniff(await head())
  if (sniffed.size >= SNIFF_CACHE_ENTRIES) sniffed.delete(sniffed.keys().next().value as string)
  sniffed.set(cid, type)
  return type
}

export async function sniff (bytes: Uint8Array): Promise<string> {
  if (bytes.byteLength === 0) return 'text/plain; charset=utf-8'
  const found = await fileTypeFromBuffer(bytes).catch(() => undefined)
  if (found != null) return found.mime
  const start = new TextDecoder('latin1').decode(bytes.subarray(0, 512)).trimStart().toLowerCase()
  if (start.startsWith('<!doctype html') || start.startsWith('<html') || start.startsWith('<head') || start.startsWith('<body')) {
    return 'text/html; charset=utf-8'
  }
  if (start.startsWith('<svg') || (start.startsWith('<?xml') && start.includes('<svg'))) return 'image/svg+xml'
  return isText(bytes) ? 'text/plain; charset=utf-8' : 'application/octet-stream'
}

function withCharset (type: string): string {
  return type.startsWith('text/') || type === 'application/javascript' || type === 'application/json' ? `${type}; charset=utf-8` : type
}

/** UTF-8 without control characters other than whitespace (a cut-off last character is fine) */
function isText (bytes: Uint8Array): boolean {
  for (const b of bytes) {
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c && b !== 0x1b) return false
  }
  try {
    // the sample may end inside a character: drop up to 3 trailing bytes of a partial sequence
    let end = bytes.byteLength
    for (let i = 1; i <= 3 && end - i >= 0; i++) {
      const b = bytes[end - i]
      if ((b & 0xc0) === 0xc0) { end -= i; break }
      if ((b & 0x80) === 0) break
    }
    new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, end))
    return true
  } catch {
    return false
  }
}
