/**
 * A lying peer for the lab, run as its own process inside a host's namespace:
 * `node liar-peer.js LISTEN_MULTIADDR DATASTORE_DIR`. It claims to hold every block and answers
 * every `want` with random bytes. Prints `{"peerId","address"}` when it listens, and one
 * `{"wants": n}` line per lie told.
 */
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { EXCHANGE_PROTOCOL } from '../../src/constants.js'
import { Request, Response } from '../../src/exchange/message.js'
import { createHost } from '../../src/host/index.js'

const [listen, datastorePath] = process.argv.slice(2)
/** Small lies arrive quickly even on a slow link */
const LIE_SIZE = 16 * 1024
const host = await createHost({
  privateKey: await generateKeyPair('Ed25519'),
  datastorePath,
  listen: [listen],
  limits: { maxConnections: 50, maxIncomingPendingConnections: 10, inboundConnectionThreshold: 100, dialTimeoutMs: 5000 },
  dht: { protocol: '/shoal-liar/kad/1.0.0', clientMode: true, peerAddresses: 'all' },
  agentVersion: 'shoal-liar'
})
let wants = 0
await host.handle(EXCHANGE_PROTOCOL, (stream) => {
  void (async () => {
    const lp = lpStream(stream)
    try {
      while (true) {
        const req = Request.decode(await lp.read())
        if (req.have != null) await lp.write(Response.encode({ id: req.id, have: { have: req.have.cids.map(() => true) } }))
        if (req.want != null) {
          wants++
          process.stdout.write(JSON.stringify({ wants }) + '\n')
          await lp.write(Response.encode({ id: req.id, block: { data: randomBytes(LIE_SIZE) } }))
        }
      }
    } catch {}
  })()
})
await host.start()
process.stdout.write(JSON.stringify({ peerId: host.peerId.toString(), address: `${host.getMultiaddrs()[0].toString()}` }) + '\n')
const stop = (): void => { void (async () => { await host.stop(); process.exit(0) })() }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
