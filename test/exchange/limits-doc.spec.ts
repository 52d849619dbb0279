/**
 * docs/exchange.md's limits table states the limits the code enforces and the config's defaults:
 * a changed constant or default without the doc (or the other way round) fails here
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import {
  INITIAL_WINDOW, MAX_BLOCK_SIZE, MAX_EXCHANGE_REQUEST, MAX_EXCHANGE_RESPONSE, MAX_HAVE_CIDS,
  MAX_INBOUND_STREAMS_PER_CONNECTION, MAX_PENDING_WRITES, MAX_WINDOW
} from '../../src/constants.js'
import { CONFIG_DEFAULTS } from '../../src/defaults.js'

const DOC = fileURLToPath(new URL('../../../docs/exchange.md', import.meta.url))

/** Bytes as the docs write them: `64 KiB`, `2 MiB` */
function size (bytes: number): string {
  for (const [unit, n] of [['MiB', 1024 * 1024], ['KiB', 1024]] as const) {
    if (bytes >= n && bytes % n === 0) return `${bytes / n} ${unit}`
  }
  return `${bytes} B`
}

/** A rate as the docs write it, with its config key */
function rate (bytesPerSecond: number, key: string): string {
  return `${bytesPerSecond === 0 ? 'unlimited' : `${bytesPerSecond}`} (\`${key}\`, bytes/s)`
}

/** The value column of the "Limits" table, by limit */
async function limitsTable (): Promise<Map<string, string>> {
  const text = await fs.readFile(DOC, 'utf8')
  const section = text.split('\n## Limits')[1]?.split('\n## ')[0] ?? ''
  const rows = new Map<string, string>()
  for (const line of section.split('\n')) {
    const cells = line.split('|').slice(1, -1).map(c => c.trim())
    if (cells.length === 3 && cells[0] !== 'limit' && !cells[0].startsWith('---')) rows.set(cells[0], cells[1])
  }
  return rows
}

describe('docs/exchange.md: the limits table', () => {
  it('states every fixed limit and config default the exchange enforces, as the code has them', async () => {
    const exchange = CONFIG_DEFAULTS.exchange
    const expected: Record<string, string> = {
      'request message': size(MAX_EXCHANGE_REQUEST),
      'response message': size(MAX_EXCHANGE_RESPONSE),
      block: size(MAX_BLOCK_SIZE),
      'CIDs in one `have`': `${MAX_HAVE_CIDS}`,
      'requests in flight per stream': `${exchange.maxRequestsPerStream} (\`exchange.maxRequestsPerStream\`)`,
      'inbound exchange streams per connection': `${MAX_INBOUND_STREAMS_PER_CONNECTION}`,
      'inbound exchange streams in all': `${exchange.maxInboundStreams} (\`exchange.maxInboundStreams\`)`,
      'upload slots (peers served at once)': `${exchange.uploadSlots} (\`exchange.uploadSlots\`)`,
      'upload rate': rate(exchange.uploadRate, 'exchange.uploadRate'),
      'download rate': rate(exchange.downloadRate, 'exchange.downloadRate'),
      'requests in flight to one peer (the client\'s window)': `${INITIAL_WINDOW} to start, at most ${MAX_WINDOW}`,
      'received blocks not yet stored, per fetch': size(MAX_PENDING_WRITES)
    }
    assert.deepEqual(Object.fromEntries(await limitsTable()), expected)
  })
})
