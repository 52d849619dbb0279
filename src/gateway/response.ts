/**
 * What the gateway's handlers share to answer with: the trustless media types, and the plain-text
 * answer for errors and redirects
 */
import type http from 'node:http'

export const CAR_TYPE = 'application/vnd.ipld.car'
export const RAW_TYPE = 'application/vnd.ipld.raw'

export function plain (res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = message + '\n'
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff'
  })
  res.end(res.req?.method === 'HEAD' ? undefined : body)
}
