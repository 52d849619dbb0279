/**
 * A lying peer for the lab, run as its own process inside a host's namespace:
 * `node liar-peer.js LISTEN_MULTIADDR DATASTORE_DIR`. It claims to hold every block and answers
 * every `want` with random bytes. Prints `{"peerId","address"}` when it listens, and one
 * `{"wants": n}` line per lie told.
 */
import { randomBytes } from 'node:crypto'
import { lpStream } from '@libp2p/utils'
import { EXCHANGE_PROTOCOL } from '../../src/constants.js'
import { Request, Response } from '../../src/exchange/message.js'
import { startHost, stopOnSignals } from '../helpers/host.js'

const [listen, datastorePath] = process.argv.slice(2)
/** Small lies arrive quickly even on a slow link */
const LIE_SIZE = 16 * 1024
const host = await startHost(datastorePath, {
  listen: [listen],
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
process.stdout.write(JSON.stringify({ peerId: host.peerId.toString(), address: `${host.getMultiaddrs()[0].toString()}` }) + '\n')
stopOnSignals(host)
