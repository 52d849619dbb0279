/**
 * A call on a socket of its own (wire.ts): the answer of node's own HTTP server read byte for
 * byte, however the bytes are cut, whether the body has a length or comes in chunks; an answer
 * cut short is an error, never a shorter body.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import net from 'node:net'
import fc from 'fast-check'
import { post } from '../../src/api/wire.js'
import type { AddressInfo } from 'node:net'

async function listen (server: net.Server): Promise<string> {
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return `127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function close (server: net.Server): Promise<void> {
  await new Promise(resolve => server.close(resolve))
}

function request (address: string, body = '{}'): Parameters<typeof post>[0] {
  return { address, path: '/api/v0/x', headers: { Authorization: 'Bearer t' }, body, connectTimeoutMs: 2000, onTimeout: () => new Error('timed out') }
}

async function bodyOf (reply: { body: AsyncIterable<Buffer> }): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of reply.body) chunks.push(c)
  return Buffer.concat(chunks)
}

describe('api: a call on a socket of its own', () => {
  it('reads what node\'s server sends: a body of known length, or chunks, with the request as sent', async () => {
    const payload = randomBytes(300_000)
    const seen: Array<{ method?: string, url?: string, auth?: string, body: string }> = []
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body: Buffer.concat(chunks).toString() })
        if (req.url === '/api/v0/x') {
          res.writeHead(404, { 'Content-Type': 'application/json', 'Content-Length': 2 }).end('{}')
          return
        }
        res.writeHead(200)
        // chunks of every size, written one by one
        let at = 0
        const write = (): void => {
          while (at < payload.length) {
            const n = Math.min(1 + Math.floor(Math.random() * 20_000), payload.length - at)
            const more = res.write(payload.subarray(at, at + n))
            at += n
            if (!more) { res.once('drain', write); return }
          }
          res.end()
        }
        write()
      })
    })
    const address = await listen(server)
    try {
      const plain = await post(request(address, '{"a":"é"}'))
      assert.equal(plain.statusCode, 404)
      assert.equal((await bodyOf(plain)).toString(), '{}')
      assert.deepEqual(seen[0], { method: 'POST', url: '/api/v0/x', auth: 'Bearer t', body: '{"a":"é"}' })
      const streamed = await post({ ...request(address), path: '/api/v0/stream' })
      assert.equal(streamed.statusCode, 200)
      assert.ok((await bodyOf(streamed)).equals(payload))
    } finally {
      await close(server)
    }
  })

  it('reads an answer however its bytes are cut, and fails on one cut short', async () => {
    const body = 'hello, chunked world'
    const answers = [
      { raw: `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`, body },
      { raw: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0F\r\n, chunked world\r\n0\r\nX-Trailer: y\r\n\r\n', body },
      { raw: 'HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\nno length', body: 'no length' }
    ]
    await fc.assert(fc.asyncProperty(fc.constantFrom(...answers.keys()), fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 8 }), fc.boolean(), async (which, cuts, short) => {
      const { raw, body } = answers[which]
      const bytes = Buffer.from(short && which < 2 ? raw.slice(0, raw.length - 3) : raw)
      const server = net.createServer((socket) => {
        socket.once('data', () => {
          let at = 0
          let i = 0
          const next = (): void => {
            if (at >= bytes.length) { socket.end(); return }
            const n = cuts[i++ % cuts.length]
            socket.write(bytes.subarray(at, at + n), next)
            at += n
          }
          next()
        })
      })
      const address = await listen(server)
      try {
        const reply = await post(request(address))
        if (short && which < 2) {
          await assert.rejects(bodyOf(reply), (err: any) => err.code === 'ECONNRESET')
        } else {
          assert.equal((await bodyOf(reply)).toString(), body)
          assert.equal(reply.statusCode, which === 2 ? 500 : 200)
        }
      } finally {
        await close(server)
      }
    }), { numRuns: 60 })
  })

  it('a refused connection, a malformed answer and an aborted call are errors', async () => {
    const server = net.createServer(socket => { socket.once('data', () => socket.end('SMTP ready\r\n\r\n')) })
    const address = await listen(server)
    try {
      await assert.rejects(post(request(address)), (err: any) => /^HPE_/.test(err.code))
    } finally {
      await close(server)
    }
    await assert.rejects(post(request(address)), (err: any) => err.code === 'ECONNREFUSED')
    const silent = net.createServer(() => {})
    const silentAddress = await listen(silent)
    try {
      const controller = new AbortController()
      const call = post({ ...request(silentAddress), signal: controller.signal })
      setTimeout(() => { controller.abort() }, 50)
      await assert.rejects(call, { name: 'AbortError' })
    } finally {
      silent.close()
      await new Promise(resolve => setTimeout(resolve, 10))
    }
  })
})
