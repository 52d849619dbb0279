/**
 * The daemon's routes, one per row of the table of calls (calls.ts): the request is read as the
 * row says (a JSON body, or a stream with its options in the query string), the arguments are
 * checked by the row's checks, the call is made, and its result is sent as the row's reply.
 */
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { MAX_API_JSON_BODY } from '../constants.js'
import { InvalidArgumentError } from '../errors.js'
import { httpStatusOf } from '../http-status.js'
import { callList, checkArgs } from '../interface/calls.js'
import { fromQuery } from '../interface/checks.js'
import { FRAMES_CONTENT_TYPE, decodeEntries, encodeBytes, encodeEntries } from './frames.js'
import { NDJSON_CONTENT_TYPE, line } from './ndjson.js'
import { sampledProgress } from './sampled.js'
import type { Call } from '../interface/calls.js'
import type { Check } from '../interface/checks.js'
import type { FetchProgressEvent, ShoalApi } from '../interface/types.js'
import type http from 'node:http'

export type Route = (req: http.IncomingMessage, res: http.ServerResponse, signal: AbortSignal) => Promise<void>

/** Each call's route, by its URL path (`/api/v0/...`) */
export function routes (api: ShoalApi): Map<string, Route> {
  return new Map(callList().map(([name, c]) => {
    const method = api[name] as (...args: any[]) => any
    const invoke = (arg: unknown, options: Record<string, unknown>): any =>
      c.arg != null || c.body != null ? method.call(api, arg, options) : method.call(api, options)
    return [`/api/v0/${c.path}`, route(c, invoke)]
  }))
}

function route (c: Call, invoke: (arg: unknown, options: Record<string, unknown>) => any): Route {
  return async (req, res, signal) => {
    const { arg, options, rest } = await argsOf(c, req)
    try {
      await replies[c.reply](res, (extra) => invoke(arg, { ...options, ...extra, signal }), c)
    } finally {
      await rest?.()
    }
  }
}

/**
 * A call's checked arguments from the request; for a call whose body is a stream, `rest` reads
 * what the call left of it, so a client whose upload was refused sees the error and not a reset
 */
async function argsOf (c: Call, req: http.IncomingMessage): Promise<{ arg: unknown, options: Record<string, unknown>, rest?: () => Promise<void> }> {
  if (c.body == null) {
    const body = await readJson(req)
    const wire = Object.fromEntries(Object.entries(c.options).map(([k, check]: [string, Check<unknown>]) => [k, body[check.key ?? k]]))
    return checkArgs(c, c.arg != null ? body[c.arg] : undefined, wire)
  }
  const params = new URL(req.url ?? '/', 'http://api').searchParams
  const wire = Object.fromEntries(Object.entries(c.options).map(([k, check]: [string, Check<unknown>]) => [k, fromQuery(params, check.key ?? k, check)]))
  let options: Record<string, unknown>
  try {
    options = checkArgs(c, undefined, wire).options
  } catch (err) {
    // the upload is read to its end, so the client sees the error and not a reset
    await drain(req[Symbol.asyncIterator]())
    throw err
  }
  if (c.body === 'entries') return { arg: decodeEntries(req), options }
  // one reader of the body, without return(): a refused stream is drained through it (a second
  // reader would see nothing while the first still holds it)
  const body = req[Symbol.asyncIterator]()
  const stream: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => ({ next: async () => await body.next() }) }
  return { arg: stream, options, rest: async () => { if (!req.readableEnded) await drain(body) } }
}

async function drain (body: AsyncIterator<unknown>): Promise<void> {
  try {
    while ((await body.next()).done !== true);
  } catch {}
}

/** Runs the call, with options of the reply's own (a progress callback) added */
type Run = (extra?: Record<string, unknown>) => any

const replies: Record<Call['reply'], (res: http.ServerResponse, run: Run, c: Call) => Promise<void>> = {
  json: async (res, run, c) => {
    const result = await run()
    reply(res, 200, c.field != null ? { [c.field]: result } : result)
  },
  none: async (res, run) => {
    await run()
    reply(res, 200, {})
  },
  bytes: async (res, run) => { await streamFrames(res, encodeBytes(await peeked(run()))) },
  entries: async (res, run) => { await streamFrames(res, encodeEntries(await peeked(run()))) },
  progress: async (res, run) => {
    // progress as one JSON event per line; the last line is the result or the error
    res.writeHead(200, { 'Content-Type': NDJSON_CONTENT_TYPE })
    const send = (v: unknown): void => { if (!res.writableEnded) res.write(line(v)) }
    const progress = sampledProgress((e) => { send({ event: e }) })
    try {
      const result = await run({ onProgress: (e: FetchProgressEvent) => { progress.push(e) } })
      progress.close()
      send({ result })
    } catch (err: any) {
      progress.close()
      send({ error: { name: err.name, message: err.message, status: httpStatusOf(err) } })
    }
    res.end()
  },
  lines: async (res, run) => {
    // one item per line, until the client goes away
    res.writeHead(200, { 'Content-Type': NDJSON_CONTENT_TYPE })
    res.flushHeaders()
    for await (const item of run() as AsyncIterable<unknown>) {
      if (!res.write(line(item))) await new Promise(resolve => res.once('drain', resolve))
    }
    res.end()
  }
}

export function reply (res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}

async function readJson (req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_API_JSON_BODY) throw new InvalidArgumentError(`request body is larger than ${MAX_API_JSON_BODY} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += chunk.byteLength
    if (size > MAX_API_JSON_BODY) throw new InvalidArgumentError(`request body is larger than ${MAX_API_JSON_BODY} bytes`)
    chunks.push(chunk)
  }
  if (size === 0) return {}
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    if (value == null || typeof value !== 'object' || Array.isArray(value)) throw new Error()
    return value
  } catch {
    throw new InvalidArgumentError('request body must be a JSON object')
  }
}

async function streamFrames (res: http.ServerResponse, frames: AsyncIterable<Uint8Array>): Promise<void> {
  res.writeHead(200, { 'Content-Type': FRAMES_CONTENT_TYPE })
  await pipeline(Readable.from(frames), res)
}

/**
 * Pull the first item before answering 200, so a bad path is a plain error response rather
 * than an ERROR frame in a 200
 */
async function peeked<T> (source: AsyncIterable<T>): Promise<AsyncIterable<T>> {
  const it = source[Symbol.asyncIterator]()
  const first = await it.next()
  return (async function * () {
    if (first.done === true) return
    yield first.value
    while (true) {
      const r = await it.next()
      if (r.done === true) return
      yield r.value
    }
  })()
}
