/**
 * The lifecycle of an HTTP server that shoal runs (the control API, the gateway): listen and say
 * the bound HOST:PORT, and stop by ending the connections still open rather than waiting on them
 */
import type http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export class HttpListener {
  private readonly server: http.Server
  private readonly sockets = new Set<Socket>()

  constructor (server: http.Server) {
    this.server = server
    server.on('connection', (s) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
  }

  /** Bind and listen; resolves with the bound HOST:PORT (IPv6 as `[::1]:PORT`) */
  async listen (port: number, host: string): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    const addr = this.server.address() as AddressInfo
    return addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`
  }

  /** Stop listening and end open connections */
  async close (): Promise<void> {
    if (!this.server.listening) return
    const closed = new Promise<void>(resolve => this.server.close(() => { resolve() }))
    for (const s of this.sockets) s.destroy()
    await closed
  }
}
