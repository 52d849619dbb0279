import module from 'node:module'
import type { IncomingMessage } from 'node:http'
import { Readable } from 'node:stream'
import { API_CONNECT_TIMEOUT } from '../constants.js'
import { ApiUnreachableError, RemoteError, ShoalError } from '../errors.js'
import type {
  AbortOptions, CatOptions, ExportEntry, FetchOptions, FetchResult, GcResult, IdResult, ImportEntry, LsEntry, PeerInfo, PinInfo,
  PerfOptions, PerfResult, PublishOptions, PublishResult, ShoalApi, StatsResult, VerifyResult, FindOptions, ProviderInfo, ProvideResult,
  Member, Announcement, StatusResult, ExportCarOptions, ImportCarOptions, ImportCarResult
} from './types.js'

// node:http imported as an ES module builds a facade of all its exports, and its lazy ones load
// the whole fetch implementation (undici): about as much start-up again as node itself. A
// require takes the module as it is.
const http: typeof import('node:http') = module.createRequire(import.meta.url)('node:http')

/** The frame codec, loaded by the calls that stream content: the rest do without it */
async function frames (): Promise<typeof import('./frames.js')> {
  return import('./frames.js')
}

export interface ApiClientInit {
  /** HOST:PORT of the daemon's API */
  address: string
  token: string
}

interface CallOptions extends AbortOptions {
  json?: unknown
  body?: AsyncIterable<Uint8Array>
  query?: Record<string, string | string[] | undefined>
}

/** `ShoalApi` over the HTTP control API of a running daemon */
class HttpApiClient implements ShoalApi {
  private readonly init: ApiClientInit
  private readonly agent = new http.Agent({ keepAlive: true })

  constructor (init: ApiClientInit) {
    this.init = init
  }

  /** Release pooled sockets */
  close (): void {
    this.agent.destroy()
  }

  private async call (route: string, options: CallOptions = {}): Promise<IncomingMessage> {
    const url = new URL(`http://${this.init.address}/api/v0/${route}`)
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (Array.isArray(v)) v.forEach(item => { url.searchParams.append(k, item) })
      else if (v != null) url.searchParams.set(k, v)
    }
    const json = options.json != null ? JSON.stringify(options.json) : undefined
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = http.request(url, {
        method: 'POST',
        agent: this.agent,
        signal: options.signal,
        headers: {
          Authorization: `Bearer ${this.init.token}`,
          ...(json != null ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) } : {})
        }
      }, resolve)
      const timer = setTimeout(() => {
        req.destroy(new ApiUnreachableError(`the daemon's API at ${this.init.address} did not answer within ${API_CONNECT_TIMEOUT} ms: is the daemon stuck? Restart it with "shoal start"`))
      }, API_CONNECT_TIMEOUT)
      req.on('socket', (s) => {
        if (!s.connecting) clearTimeout(timer)
        else s.once('connect', () => clearTimeout(timer))
      })
      req.on('error', (err: any) => {
        clearTimeout(timer)
        if (err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET') {
          reject(new ApiUnreachableError(`cannot reach the daemon's API at ${this.init.address} (${err.code}): start the daemon with "shoal start"`))
        } else {
          reject(err)
        }
      })
      if (options.body != null) {
        Readable.from(options.body).on('error', (err) => req.destroy(err)).pipe(req)
      } else {
        req.end(json)
      }
    })
    if (res.statusCode !== 200) {
      throw await errorOf(res)
    }
    return res
  }

  private async json<T> (route: string, body: unknown = {}, options: AbortOptions = {}): Promise<T> {
    const res = await this.call(route, { json: body, signal: options.signal })
    return JSON.parse(await text(res)) as T
  }

  async id (options?: AbortOptions): Promise<IdResult> {
    return this.json('id', {}, options)
  }

  async publish (entries: AsyncIterable<ImportEntry>, options: PublishOptions = {}): Promise<PublishResult> {
    let bytes = 0
    const counted = async function * (): AsyncGenerator<ImportEntry> {
      for await (const entry of entries) {
        if (entry.kind === 'file' && entry.content != null) {
          const content = entry.content
          yield {
            ...entry,
            content: (async function * () {
              for await (const chunk of content) {
                bytes += chunk.byteLength
                options.onProgress?.({ type: 'publish:bytes', bytes })
                yield chunk
              }
            })()
          }
        } else {
          yield entry
        }
      }
    }
    const res = await this.call('publish', {
      body: (await frames()).encodeEntries(counted()),
      query: {
        profile: options.profile,
        pin: options.pin === false ? 'false' : undefined,
        announce: options.announce === false ? 'false' : undefined,
        tag: options.tags,
        replicas: options.replicas != null ? String(options.replicas) : undefined
      },
      signal: options.signal
    })
    const result = JSON.parse(await text(res)) as PublishResult
    options.onProgress?.({ type: 'publish:done', bytes: result.size })
    return result
  }

  async fetch (cid: string, options: FetchOptions = {}): Promise<FetchResult> {
    const res = await this.call('fetch', { json: { cid, from: options.from, name: options.name }, signal: options.signal })
    let buf = ''
    for await (const chunk of streamed(res, 'the fetch', 'start it again with "shoal start" and run the same fetch to resume', options.signal)) {
      buf += chunk.toString('utf8')
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl))
        buf = buf.slice(nl + 1)
        if (msg.event != null) options.onProgress?.(msg.event)
        else if (msg.result != null) return msg.result
        else if (msg.error != null) throw new RemoteError(String(msg.error.name), String(msg.error.message), Number(msg.error.status) || 500)
      }
    }
    throw new ApiUnreachableError('the daemon closed the fetch before it finished')
  }

  async * cat (path: string, options: CatOptions = {}): AsyncGenerator<Uint8Array> {
    const res = await this.call('cat', { json: { path, offset: options.offset, length: options.length }, signal: options.signal })
    yield * (await frames()).decodeBytes(streamed(res, 'cat', 'start it again with "shoal start"', options.signal))
  }

  async * get (path: string, options: AbortOptions = {}): AsyncGenerator<ExportEntry> {
    const res = await this.call('get', { json: { path }, signal: options.signal })
    for await (const e of (await frames()).decodeEntries(streamed(res, 'get', 'start it again with "shoal start"', options.signal))) {
      yield { path: e.path, kind: e.kind, size: e.size ?? 0, content: e.content, target: e.target }
    }
  }

  async ls (path: string, options?: AbortOptions): Promise<LsEntry[]> {
    return (await this.json<{ entries: LsEntry[] }>('ls', { path }, options)).entries
  }

  async pinAdd (cid: string, options: AbortOptions & { name?: string } = {}): Promise<PinInfo> {
    return this.json('pin/add', { cid, name: options.name }, options)
  }

  async pinRm (cid: string, options?: AbortOptions): Promise<void> {
    await this.json('pin/rm', { cid }, options)
  }

  async pinLs (options?: AbortOptions): Promise<PinInfo[]> {
    return (await this.json<{ pins: PinInfo[] }>('pin/ls', {}, options)).pins
  }

  async gc (options?: AbortOptions): Promise<GcResult> {
    return this.json('gc', {}, options)
  }

  async verify (options: AbortOptions & { drop?: boolean } = {}): Promise<VerifyResult> {
    return this.json('verify', { drop: options.drop === true }, options)
  }

  async peers (options?: AbortOptions): Promise<PeerInfo[]> {
    return (await this.json<{ peers: PeerInfo[] }>('peers', {}, options)).peers
  }

  async connect (multiaddr: string, options?: AbortOptions): Promise<PeerInfo> {
    return this.json('connect', { multiaddr }, options)
  }

  async stats (options?: AbortOptions): Promise<StatsResult> {
    return this.json('stats', {}, options)
  }

  async * exportCar (path: string, options: ExportCarOptions = {}): AsyncGenerator<Uint8Array> {
    const res = await this.call('car/export', { json: { path, scope: options.scope }, signal: options.signal })
    yield * (await frames()).decodeBytes(streamed(res, 'export', 'start it again with "shoal start"', options.signal))
  }

  async importCar (car: AsyncIterable<Uint8Array>, options: ImportCarOptions = {}): Promise<ImportCarResult> {
    const res = await this.call('car/import', { body: car, query: { pin: options.pin === false ? 'false' : undefined }, signal: options.signal })
    return JSON.parse(await text(res)) as ImportCarResult
  }

  async perf (multiaddr: string, options: PerfOptions = {}): Promise<PerfResult> {
    return this.json('perf', { multiaddr, bytes: options.bytes, hash: options.hash }, options)
  }

  async find (cid: string, options: FindOptions = {}): Promise<ProviderInfo[]> {
    return (await this.json<{ providers: ProviderInfo[] }>('find', { cid, limit: options.limit, timeoutMs: options.timeoutMs }, options)).providers
  }

  async provide (cid: string, options?: AbortOptions): Promise<ProvideResult> {
    return this.json('provide', { cid }, options)
  }

  async members (options?: AbortOptions): Promise<Member[]> {
    return (await this.json<{ members: Member[] }>('members', {}, options)).members
  }

  async status (cid: string, options: AbortOptions & { timeoutMs?: number } = {}): Promise<StatusResult> {
    return this.json('status', { cid, timeoutMs: options.timeoutMs }, options)
  }

  async * watch (options: AbortOptions = {}): AsyncGenerator<Announcement> {
    const res = await this.call('watch', { json: {}, signal: options.signal })
    let buf = ''
    try {
      for await (const chunk of res) {
        buf += chunk.toString('utf8')
        if (buf.length > 64 * 1024) throw new ApiUnreachableError('the daemon sent an announcement line longer than 64 KiB')
        let nl: number
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl)
          buf = buf.slice(nl + 1)
          if (line !== '') yield JSON.parse(line) as Announcement
        }
      }
    } catch (err: any) {
      // the caller aborting is how a watch ends
      if (options.signal?.aborted === true) return
      throw err
    }
  }
}

async function text (res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of res) chunks.push(c)
  return Buffer.concat(chunks).toString('utf8')
}

async function errorOf (res: IncomingMessage): Promise<Error> {
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
  return new HttpApiClient(init)
}

/**
 * The body of a streamed answer. A daemon that goes away in the middle (killed, stopped) ends
 * the connection; that is said as such, not as the socket's bare "aborted".
 */
async function * streamed (res: IncomingMessage, during: string, advice: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of res) yield chunk
  } catch (err: any) {
    if (signal?.aborted === true || err instanceof ShoalError) throw err
    throw new ApiUnreachableError(`the daemon went away during ${during} (${String(err.code ?? err.message)}): ${advice}`)
  }
}
