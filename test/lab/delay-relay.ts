/**
 * Link delay in user space, for kernels without `tc netem`: run in a host's namespace as
 * `node delay-relay.js LISTEN_IP PORT TARGET_PORT DELAY_MS JITTER_MS`. It accepts TCP on
 * LISTEN_IP:PORT, connects each to 127.0.0.1:TARGET_PORT (the daemon), and holds every chunk, in
 * both directions, DELAY_MS (plus up to JITTER_MS, order kept) before passing it on. A connection
 * between two lab hosts crosses exactly one relay (the listener's), so its round trip grows by
 * twice DELAY_MS. It cannot drop packets: loss comes from netem or, without it, nftables (lab.ts).
 */
import net from 'node:net'

const [ip, port, target, delayArg, jitterArg] = process.argv.slice(2)
const delay = Number(delayArg)
const jitter = Number(jitterArg ?? 0)
/** Bytes held in one direction before the sender is paused */
const HIGH_WATER = 8 * 1024 * 1024

function delayed (from: net.Socket, to: net.Socket): void {
  // one queue and one timer per direction: separate timers could fire out of order
  const queue: Array<{ at: number, chunk: Buffer | null }> = []
  let held = 0
  let timer: NodeJS.Timeout | undefined
  let last = 0
  const pump = (): void => {
    timer = undefined
    while (queue.length > 0 && queue[0].at <= Date.now()) {
      const { chunk } = queue.shift()!
      if (chunk == null) { to.end(); continue }
      held -= chunk.byteLength
      if (!to.destroyed) to.write(chunk)
    }
    if (held <= HIGH_WATER / 2 && from.isPaused()) from.resume()
    if (queue.length > 0) timer = setTimeout(pump, Math.max(0, queue[0].at - Date.now()))
  }
  const push = (chunk: Buffer | null): void => {
    last = Math.max(last, Date.now() + delay + Math.random() * jitter)
    queue.push({ at: last, chunk })
    timer ??= setTimeout(pump, Math.max(0, queue[0].at - Date.now()))
  }
  from.on('data', (chunk: Buffer) => {
    held += chunk.byteLength
    if (held > HIGH_WATER) from.pause()
    push(chunk)
  })
  from.on('end', () => { push(null) })
  from.on('error', () => { to.destroy() })
  from.on('close', () => { setTimeout(() => { to.destroy() }, Math.max(0, last - Date.now()) + 50) })
}

const server = net.createServer((inbound) => {
  inbound.setNoDelay(true)
  const outbound = net.connect({ host: '127.0.0.1', port: Number(target) })
  outbound.setNoDelay(true)
  delayed(inbound, outbound)
  delayed(outbound, inbound)
})
server.listen(Number(port), ip, () => {
  process.stdout.write(JSON.stringify({ relay: `${ip}:${port}`, target: Number(target), delay, jitter }) + '\n')
})
process.on('SIGTERM', () => { process.exit(0) })
