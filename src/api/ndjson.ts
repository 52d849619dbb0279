/**
 * ndjson, as the control API streams events and items: one JSON value per line. The reader bounds
 * a line, so a daemon that sends no newline cannot make the client buffer without end.
 */
import { ApiUnreachableError } from '../errors.js'

/** The longest line a reader takes */
const MAX_LINE = 64 * 1024

/** One JSON value per line of `source`; empty lines are skipped */
export async function * readLines (source: AsyncIterable<Uint8Array>, maxLine = MAX_LINE): AsyncGenerator<unknown> {
  const decoder = new TextDecoder()
  let buf = ''
  for await (const chunk of source) {
    buf += decoder.decode(chunk, { stream: true })
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      if (line !== '') yield JSON.parse(line)
    }
    if (buf.length > maxLine) throw new ApiUnreachableError(`the daemon sent a line longer than ${maxLine / 1024} KiB`)
  }
}

/** A value as one line */
export function line (value: unknown): string {
  return JSON.stringify(value) + '\n'
}

export const NDJSON_CONTENT_TYPE = 'application/x-ndjson'
