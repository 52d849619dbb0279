/**
 * Trustless responses (IPFS trustless gateway spec): a raw block, or a CAR of a DAG, for clients
 * that verify every block against the CID they asked for and so need not trust this peer.
 */
import { exporter } from 'ipfs-unixfs-exporter'
import { exportCar } from '../content/index.js'
import { InvalidArgumentError, PathNotFoundError } from '../errors.js'
import { CAR_TYPE, RAW_TYPE } from './response.js'
import { matches } from './unixfs.js'
import type { GatewayRequest } from './server.js'
import type { DagScope } from '../content/index.js'
import type { CID } from 'multiformats/cid'

/** The single block at the end of the path */
export async function serveRaw (ctx: GatewayRequest): Promise<void> {
  const cid = await terminal(ctx)
  const etag = `"${cid}.raw"`
  trustlessHeaders(ctx, etag, `${cid}.bin`)
  if (matches(ctx.req.headers['if-none-match'], etag)) {
    ctx.res.writeHead(304)
    ctx.res.end()
    return
  }
  const bytes = await ctx.blocks.getBytes(cid, { signal: ctx.signal })
  ctx.res.writeHead(200, { 'Content-Type': RAW_TYPE, 'Content-Length': bytes.byteLength })
  if (ctx.head) return void ctx.res.end()
  await ctx.send([bytes])
}

/** A CARv1 rooted at the requested CID: the blocks along the path, then the DAG at its end */
export async function serveCar (ctx: GatewayRequest): Promise<void> {
  const scope = (ctx.query.get('dag-scope') ?? 'all') as DagScope
  if (scope !== 'all' && scope !== 'entity' && scope !== 'block') {
    throw new InvalidArgumentError(`unsupported dag-scope "${scope}": use all, entity or block`)
  }
  const version = /version=(\d+)/.exec(ctx.req.headers.accept ?? '')?.[1]
  if (version != null && version !== '1') throw new InvalidArgumentError(`CAR version ${version} is not supported: this gateway writes CARv1`)
  const etag = `"${ctx.contentPath.slice('/ipfs/'.length)}.car.${scope}"`
  trustlessHeaders(ctx, etag, `${ctx.cid}.car`)
  if (matches(ctx.req.headers['if-none-match'], etag)) {
    ctx.res.writeHead(304)
    ctx.res.end()
    return
  }
  const source = exportCar({ getBytes: async (cid, o) => ctx.blocks.getBytes(cid, o) }, { cid: ctx.cid, segments: ctx.segments }, { scope, signal: ctx.signal })
  // the header comes only after the path resolved, so a bad path is still a plain 404
  const it = source[Symbol.asyncIterator]()
  const first = await it.next()
  ctx.res.writeHead(200, { 'Content-Type': `${CAR_TYPE}; version=1; order=dfs; dups=n` })
  if (ctx.head) {
    await it.return?.(undefined)
    return void ctx.res.end()
  }
  await ctx.send((async function * () {
    if (first.done !== true) yield first.value
    while (true) {
      const r = await it.next()
      if (r.done === true) return
      yield r.value
    }
  })())
}

function trustlessHeaders (ctx: GatewayRequest, etag: string, filename: string): void {
  ctx.res.setHeader('ETag', etag)
  ctx.res.setHeader('Cache-Control', ctx.cacheControl)
  ctx.res.setHeader('X-Content-Type-Options', 'nosniff')
  ctx.res.setHeader('Content-Disposition', `attachment; filename="${filename}"`)
  ctx.res.setHeader('X-Ipfs-Path', encodeURI(ctx.contentPath))
}

async function terminal (ctx: GatewayRequest): Promise<CID> {
  if (ctx.segments.length === 0) return ctx.cid
  try {
    return (await exporter([ctx.cid.toString(), ...ctx.segments].join('/'), ctx.blocks.blockstore, { signal: ctx.signal })).cid
  } catch (err: any) {
    if (err.name === 'NotFoundError' || err.name === 'NotUnixFSError') throw new PathNotFoundError(`no link named by ${ctx.contentPath}`)
    throw err
  }
}
