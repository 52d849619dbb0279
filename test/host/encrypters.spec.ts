/**
 * Connection encrypters: hosts prefer noise and fall back to TLS for a peer that speaks TLS
 * alone, in either direction; the order is the config's. A stream arrives intact over each.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { tmpDir } from '../helpers/tmp.js'
import { startHost } from '../helpers/host.js'
import type { Host } from '../../src/host/index.js'
import type { Encrypter } from '../../src/host/encrypters.js'

const PROTOCOL = '/shoal-test/echo/1.0.0'

/** Open a stream from `a` to `b`, send `bytes`, and return what `b` echoed back */
async function echo (a: Host, b: Host, bytes: Uint8Array): Promise<Buffer> {
  const stream = await a.dialProtocol(b.getMultiaddrs()[0], PROTOCOL)
  const got: Uint8Array[] = []
  const done = new Promise<void>((resolve, reject) => {
    stream.addEventListener('message', (evt) => { got.push(evt.data.subarray()) })
    stream.addEventListener('remoteCloseWrite', () => { resolve() }, { once: true })
    stream.addEventListener('close', (evt) => { evt.error != null ? reject(evt.error) : resolve() }, { once: true })
  })
  stream.send(bytes)
  await stream.close()
  await done
  return Buffer.concat(got)
}

describe('host: connection encrypters', () => {
  let tmp: { dir: string, cleanup(): Promise<void> }
  const hosts: Host[] = []

  const host = async (encrypters?: Encrypter[]): Promise<Host> => {
    const h = await startHost(`${tmp.dir}/${hosts.length}`, encrypters != null ? { encrypters } : {})
    await h.handle(PROTOCOL, async (stream) => {
      for await (const chunk of stream) stream.send(chunk.subarray())
      await stream.close()
    })
    hosts.push(h)
    return h
  }

  beforeEach(async () => {
    tmp = await tmpDir()
  })

  afterEach(async () => {
    await Promise.all(hosts.splice(0).map(async h => { await h.stop() }))
    await tmp.cleanup()
  })

  const cases: Array<{ name: string, dialer?: Encrypter[], listener?: Encrypter[], expected: string }> = [
    { name: 'two hosts with the defaults use noise', expected: '/noise' },
    { name: 'a default host dialling a TLS-only peer falls back to TLS', listener: ['tls'], expected: '/tls/1.0.0' },
    { name: 'a TLS-only peer dialling a default host gets TLS', dialer: ['tls'], expected: '/tls/1.0.0' },
    { name: 'hosts that prefer TLS use TLS though both speak noise', dialer: ['tls', 'noise'], listener: ['tls', 'noise'], expected: '/tls/1.0.0' }
  ]
  for (const c of cases) {
    it(`${c.name}, and a stream over it arrives intact`, async () => {
      const listener = await host(c.listener)
      const dialer = await host(c.dialer)
      const bytes = randomBytes(3 * 1024 * 1024 + 17)
      const back = await echo(dialer, listener, bytes)
      assert.ok(back.equals(bytes), `echoed ${back.byteLength} bytes, sent ${bytes.byteLength}`)
      const conns = dialer.getConnections(listener.peerId)
      assert.equal(conns.length, 1)
      assert.equal(conns[0].encryption, c.expected)
    })
  }
})
