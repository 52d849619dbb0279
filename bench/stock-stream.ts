/**
 * A stock libp2p stream, as any libp2p application gets it (TCP, noise, yamux, every setting at
 * its default): the reference bench/exchange compares a fetch with, beside shoal's own raw stream.
 *
 *   node dist/bench/stock-stream.js serve            prints {"addr": MULTIADDR}, serves until stdin ends
 *   node dist/bench/stock-stream.js fetch ADDR BYTES prints {"bytes", "seconds"}
 *
 * The client writes the number of bytes it wants as an 8-byte big-endian integer and closes its
 * write end; the server writes that many zero bytes in 256 KiB messages, waiting for `drain`.
 */
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import type { Libp2p, Stream } from '@libp2p/interface'

const PROTOCOL = '/shoal-bench/stock-stream/1.0.0'
const WRITE_SIZE = 256 * 1024
/** The most one request may ask for, so a stray client cannot keep the server busy for ever */
const MAX_BYTES = 16 * 1024 ** 3

async function node (listen: string[]): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  })
}

async function serveOne (stream: Stream): Promise<void> {
  try {
    const head: Uint8Array[] = []
    let got = 0
    for await (const chunk of stream) {
      const bytes = chunk.subarray()
      head.push(bytes)
      got += bytes.byteLength
      if (got >= 8) break
    }
    if (got < 8) throw new Error('request too short')
    const wanted = Buffer.concat(head).readBigUInt64BE(0)
    if (wanted > BigInt(MAX_BYTES)) throw new Error('request too large')
    const block = new Uint8Array(WRITE_SIZE)
    for (let left = Number(wanted); left > 0;) {
      const n = Math.min(left, WRITE_SIZE)
      if (!stream.send(n === WRITE_SIZE ? block : block.subarray(0, n))) {
        await new Promise<void>((resolve, reject) => {
          stream.addEventListener('drain', () => { resolve() }, { once: true })
          stream.addEventListener('close', () => { reject(new Error('closed')) }, { once: true })
        })
      }
      left -= n
    }
    await stream.close()
  } catch (err: any) {
    stream.abort(err)
  }
}

async function serve (): Promise<void> {
  const host = await node(['/ip4/127.0.0.1/tcp/0'])
  await host.handle(PROTOCOL, (stream) => { void serveOne(stream) })
  process.stdout.write(JSON.stringify({ addr: host.getMultiaddrs()[0].toString() }) + '\n')
  // runs until the bench closes its stdin (or kills it)
  process.stdin.resume()
  await new Promise(resolve => process.stdin.on('end', resolve))
  await host.stop()
}

async function fetch (addr: string, bytes: number): Promise<void> {
  const host = await node([])
  try {
    const stream = await host.dialProtocol(multiaddr(addr), PROTOCOL)
    const started = performance.now()
    const received = new Promise<number>((resolve, reject) => {
      let n = 0
      stream.addEventListener('message', (evt) => { n += evt.data.byteLength })
      stream.addEventListener('remoteCloseWrite', () => { resolve(n) }, { once: true })
      stream.addEventListener('close', (evt) => { if (evt.error != null) reject(evt.error); else resolve(n) }, { once: true })
    })
    const head = Buffer.alloc(8)
    head.writeBigUInt64BE(BigInt(bytes))
    stream.send(head)
    await stream.close()
    const got = await received
    if (got !== bytes) throw new Error(`expected ${bytes} bytes, got ${got}`)
    process.stdout.write(JSON.stringify({ bytes: got, seconds: (performance.now() - started) / 1000 }) + '\n')
  } finally {
    await host.stop()
  }
}

const [mode, ...rest] = process.argv.slice(2)
if (mode === 'serve') await serve()
else if (mode === 'fetch' && rest.length === 2 && Number.isSafeInteger(Number(rest[1])) && Number(rest[1]) > 0) await fetch(rest[0], Number(rest[1]))
else {
  process.stderr.write('usage: stock-stream.js serve | fetch ADDR BYTES\n')
  process.exit(2)
}
