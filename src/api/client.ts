import module from 'node:module'
import { API_CONNECT_TIMEOUT } from '../constants.js'
import { ApiUnreachableError, RemoteError, ShoalError } from '../errors.js'
import { callList } from '../interface/calls.js'
import { readLines } from './ndjson.js'
import { post } from './wire.js'
import type { Call, CallName } from '../interface/calls.js'
import type { AbortOptions, ExportEntry, ImportEntry, ShoalApi } from '../interface/types.js'
import type { Agent } from 'node:http'

/**
 * node:http, for the calls that stream a request body (publish, import); the rest make their call
 * on a socket of their own (wire.ts). Imported as an ES module, node:http builds a facade of all
 * its exports, and its lazy ones load the whole fetch implementation (undici): a require takes
 * the module as it is.
 */
function http (): typeof import('node:http') {
  return module.createRequire(import.meta.url)('node:http')
}

/** The frame codec, loaded by the calls that stream content: the rest do without it */
async function frames (): Promise<typeof import('./frames.js')> {
  return import('./frames.js')
}

export interface ApiClientInit {
  /** HOST:PORT of the daemon's API */
  address: string
  token: string
}

/** An answer of the daemon: its status and body */
interface Answer {
  statusCode: number
  body: AsyncIterable<Buffer>
}

interface CallOptions extends AbortOptions {
  json?: unknown
  body?: AsyncIterable<Uint8Array>
  query?: Record<string, string | string[] | undefined>
}

/** The HTTP control API of a running daemon; `createApiClient` makes its `ShoalApi` methods from the table of calls */
class HttpApiClient {
  private readonly init: ApiClientInit
  /** Made by the first call that streams a body */
  private agent?: Agent

  constructor (init: ApiClientInit) {
    this.init = init
  }

  /** Release pooled sockets */
  close (): void {
    this.agent?.destroy()
  }

  private unreachable (err: any): Error {
    if (err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET') {
      return new ApiUnreachableError(`cannot reach the daemon's API at ${this.init.address} (${err.code}): start the daemon with "shoal start"`)
    }
    return err
  }

  private timedOut (): Error {
    return new ApiUnreachableError(`the daemon's API at ${this.init.address} did not answer within ${API_CONNECT_TIMEOUT} ms: is the daemon stuck? Restart it with "shoal start"`)
  }

  private async call (route: string, options: CallOptions = {}): Promise<Answer> {
    const res = options.body == null ? await this.post(route, options) : await this.upload(route, options.body, options)
    if (res.statusCode !== 200) {
      throw await errorOf(res)
    }
    return res
  }

  /** A call with a JSON body, on a socket of its own */
  private async post (route: string, options: CallOptions): Promise<Answer> {
    try {
      return await post({
        address: this.init.address,
        path: `/api/v0/${route}`,
        headers: { Authorization: `Bearer ${this.init.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(options.json ?? {}),
        connectTimeoutMs: API_CONNECT_TIMEOUT,
        onTimeout: () => this.timedOut(),
        signal: options.signal
      })
    } catch (err: any) {
      throw this.unreachable(err)
    }
  }

  /** A call that streams its body, through node:http */
  private async upload (route: string, body: AsyncIterable<Uint8Array>, options: CallOptions): Promise<Answer> {
    const { Agent, request } = http()
    const { Readable } = await import('node:stream')
    this.agent ??= new Agent({ keepAlive: true })
    const url = new URL(`http://${this.init.address}/api/v0/${route}`)
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (Array.isArray(v)) v.forEach(item => { url.searchParams.append(k, item) })
      else if (v != null) url.searchParams.set(k, v)
    }
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = request(url, {
        method: 'POST',
        agent: this.agent,
        signal: options.signal,
        headers: { Authorization: `Bearer ${this.init.token}` }
      }, resolve)
      const timer = setTimeout(() => { req.destroy(this.timedOut()) }, API_CONNECT_TIMEOUT)
      req.on('socket', (s) => {
        if (!s.connecting) clearTimeout(timer)
        else s.once('connect', () => clearTimeout(timer))
      })
      req.on('error', (err: any) => {
        clearTimeout(timer)
        reject(this.unreachable(err))
      })
      Readable.from(body).on('error', (err) => req.destroy(err)).pipe(req)
    })
    return { statusCode: res.statusCode ?? 0, body: res }
  }

  /** A method of `ShoalApi` that makes the call over HTTP, as its row says */
  method (name: CallName, c: Call): (...args: any[]) => unknown {
    const title = c.title ?? name
    const hasArg = c.arg != null || c.body != null
    const send = async (arg: unknown, options: Record<string, any>): Promise<Answer> => {
      const wire = Object.fromEntries(Object.keys(c.options).map(k => [c.options[k].key ?? k, options[k]]))
      if (c.body == null) return this.call(c.path, { json: c.arg != null ? { [c.arg]: arg, ...wire } : wire, signal: options.signal })
      return this.call(c.path, {
        body: c.body === 'entries' ? (await frames()).encodeEntries(uploaded(arg as AsyncIterable<ImportEntry>, name, options.onProgress)) : arg as AsyncIterable<Uint8Array>,
        query: queryOf(wire),
        signal: options.signal
      })
    }
    const streamedBody = (res: Answer, options: AbortOptions): AsyncGenerator<Buffer> =>
      streamed(res, `the ${title}`, `start it again with "shoal start"${c.resumes === true ? ` and run the same ${title} to resume` : ''}`, options.signal)
    const replies: Record<Call['reply'], (arg: unknown, options: Record<string, any>) => unknown> = {
      json: async (arg, options) => {
        const result = JSON.parse(await text(await send(arg, options)))
        return c.field != null ? result[c.field] : result
      },
      none: async (arg, options) => { await text(await send(arg, options)) },
      bytes: async function * (arg, options) {
        const res = await send(arg, options)
        yield * (await frames()).decodeBytes(streamedBody(res, options))
      },
      entries: async function * (arg, options): AsyncGenerator<ExportEntry> {
        const res = await send(arg, options)
        for await (const e of (await frames()).decodeEntries(streamedBody(res, options))) {
          yield { path: e.path, kind: e.kind, size: e.size ?? 0, content: e.content, target: e.target }
        }
      },
      progress: async (arg, options) => {
        const res = await send(arg, options)
        for await (const msg of readLines(streamedBody(res, options)) as AsyncIterable<any>) {
          if (msg.event != null) options.onProgress?.(msg.event)
          else if (msg.result != null) return msg.result
          else if (msg.error != null) throw new RemoteError(String(msg.error.name), String(msg.error.message), Number(msg.error.status) || 500)
        }
        throw new ApiUnreachableError(`the daemon closed the ${title} before it finished`)
      },
      lines: async function * (arg, options) {
        try {
          yield * readLines((await send(arg, options)).body)
        } catch (err: any) {
          // the caller aborting is how it ends
          if (options.signal?.aborted === true) return
          throw err
        }
      }
    }
    const reply = replies[c.reply]
    return hasArg ? (arg: unknown, options = {}) => reply(arg, options) : (options = {}) => reply(undefined, options)
  }
}

/** Entries being uploaded, counted: `<call>:bytes` as file bytes go out, `<call>:done` at the end */
async function * uploaded (entries: AsyncIterable<ImportEntry>, name: string, onProgress?: (e: any) => void): AsyncGenerator<ImportEntry> {
  let bytes = 0
  for await (const entry of entries) {
    if (entry.kind !== 'file' || entry.content == null) {
      yield entry
      continue
    }
    const content = entry.content
    yield {
      ...entry,
      content: (async function * () {
        for await (const chunk of content) {
          bytes += chunk.byteLength
          onProgress?.({ type: `${name}:bytes`, bytes })
          yield chunk
        }
      })()
    }
  }
  onProgress?.({ type: `${name}:done`, bytes })
}

/** Options as a query string carries them: lists as repeated keys, the rest as text */
function queryOf (wire: Record<string, unknown>): Record<string, string | string[] | undefined> {
  return Object.fromEntries(Object.entries(wire).map(([k, v]) => [k, v == null ? undefined : Array.isArray(v) ? v.map(String) : String(v)]))
}

async function text (res: Answer): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of res.body) chunks.push(c)
  return Buffer.concat(chunks).toString('utf8')
}

async function errorOf (res: Answer): Promise<Error> {
  const body = await text(res).catch(() => '')
  try {
    const { error } = JSON.parse(body)
    return new RemoteError(String(error.name), String(error.message), res.statusCode ?? 500)
  } catch {
    return new RemoteError('ApiError', `the daemon answered ${res.statusCode}: ${body.slice(0, 200)}`, res.statusCode ?? 500)
  }
}

export type ApiClient = ShoalApi & { close(): void }

export function createApiClient (init: ApiClientInit): ApiClient {
  const client = new HttpApiClient(init)
  const methods = Object.fromEntries(callList().map(([name, c]) => [name, client.method(name, c)]))
  return Object.assign(methods as ShoalApi, { close: () => { client.close() } })
}

/**
 * The body of a streamed answer. A daemon that goes away in the middle (killed, stopped) ends
 * the connection; that is said as such, not as the socket's bare "aborted".
 */
async function * streamed (res: Answer, during: string, advice: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of res.body) yield chunk
  } catch (err: any) {
    if (signal?.aborted === true || err instanceof ShoalError) throw err
    throw new ApiUnreachableError(`the daemon went away during ${during} (${String(err.code ?? err.message)}): ${advice}`)
  }
}
