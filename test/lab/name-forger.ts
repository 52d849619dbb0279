/**
 * A forger for the lab, run as its own process inside a host's namespace:
 * `node name-forger.js LISTEN_MULTIADDR DATASTORE_DIR TARGET_MULTIADDR TOPIC MESSAGES_FILE`. It
 * dials the target, joins the names topic, and once the target is subscribed as it sees it,
 * publishes each message of MESSAGES_FILE (a JSON list of base64 strings) as they are, with no
 * validator of its own. Prints `{"peerId","sent"}` when done, and stays until SIGTERM.
 */
import fs from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { createHost } from '../../src/host/index.js'

const [listen, datastorePath, target, topic, messagesFile] = process.argv.slice(2)
const messages: string[] = JSON.parse(await fs.readFile(messagesFile, 'utf8'))
const host = await createHost({
  privateKey: await generateKeyPair('Ed25519'),
  datastorePath,
  listen: [listen],
  limits: { maxConnections: 50, maxIncomingPendingConnections: 10, inboundConnectionThreshold: 100, dialTimeoutMs: 5000 },
  dht: { protocol: '/shoal-forger/kad/1.0.0', clientMode: true, peerAddresses: 'all' },
  agentVersion: 'shoal-forger'
})
await host.start()
const pubsub = host.services.pubsub
pubsub.subscribe(topic)
const conn = await host.dial(multiaddr(target))
const deadline = Date.now() + 30_000
while (!pubsub.getSubscribers(topic).some(p => p.equals(conn.remotePeer)) && Date.now() < deadline) {
  await new Promise(resolve => setTimeout(resolve, 100))
}
let sent = 0
for (const m of messages) {
  await pubsub.publish(topic, Buffer.from(m, 'base64'))
  sent++
}
process.stdout.write(JSON.stringify({ peerId: host.peerId.toString(), sent }) + '\n')
const stop = (): void => { void (async () => { await host.stop(); process.exit(0) })() }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
