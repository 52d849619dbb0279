/**
 * A forger for the lab, run as its own process inside a host's namespace:
 * `node name-forger.js LISTEN_MULTIADDR DATASTORE_DIR TARGET_MULTIADDR TOPIC MESSAGES_FILE`. It
 * dials the target, joins the names topic, and once the target is subscribed as it sees it,
 * publishes each message of MESSAGES_FILE (a JSON list of base64 strings) as they are, with no
 * validator of its own. Prints `{"peerId","sent"}` when done, and stays until SIGTERM.
 */
import fs from 'node:fs/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { startHost, stopOnSignals } from '../helpers/host.js'

const [listen, datastorePath, target, topic, messagesFile] = process.argv.slice(2)
const messages: string[] = JSON.parse(await fs.readFile(messagesFile, 'utf8'))
const host = await startHost(datastorePath, {
  listen: [listen],
  dht: { protocol: '/shoal-forger/kad/1.0.0', clientMode: true, peerAddresses: 'all' },
  agentVersion: 'shoal-forger'
})
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
stopOnSignals(host)
