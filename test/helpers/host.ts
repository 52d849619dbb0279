import { generateKeyPair } from '@libp2p/crypto/keys'
import { createHost } from '../../src/host/index.js'
import type { Host, HostInit } from '../../src/host/index.js'

/**
 * A started libp2p host in the test's process, on a loopback TCP port, with a fresh key: a test
 * double or a bare client beside real daemons. Limits, DHT and agent default to a small DHT
 * client; tests give what they need otherwise.
 */
export async function startHost (dir: string, init: Partial<Pick<HostInit, 'limits' | 'dht' | 'agentVersion' | 'listen' | 'encrypters'>> = {}): Promise<Host> {
  const host = await createHost({
    privateKey: await generateKeyPair('Ed25519'),
    datastorePath: dir,
    listen: init.listen ?? ['/ip4/127.0.0.1/tcp/0'],
    limits: init.limits ?? { maxConnections: 50, maxIncomingPendingConnections: 10, inboundConnectionThreshold: 100, dialTimeoutMs: 5000 },
    dht: init.dht ?? { protocol: '/shoal-test/kad/1.0.0', clientMode: true, peerAddresses: 'all' },
    agentVersion: init.agentVersion ?? 'shoal-test',
    ...(init.encrypters != null ? { encrypters: init.encrypters } : {})
  })
  await host.start()
  return host
}

/** A host run as a process of its own (the lab's rogue peers): stopped, and the process ended, on SIGTERM or SIGINT */
export function stopOnSignals (host: Pick<Host, 'stop'>): void {
  const stop = (): void => { void (async () => { await host.stop(); process.exit(0) })() }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
