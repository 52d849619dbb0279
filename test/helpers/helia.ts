import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { MemoryDatastore } from 'datastore-core/memory'
import { createHeliaLight } from 'helia'

/**
 * A started Helia node with bitswap on a loopback TCP port (its own libp2p: tcp, noise, yamux,
 * identify), blocks in memory, and no routers and no gateways: its only sources are the peers it
 * is connected to. Stop it with `stop()`. Typed loosely: Helia's composed type names its libp2p
 * services, which nobody here uses.
 */
export async function startHelia (): Promise<any> {
  const node = withBitswap(withLibp2pLight(createHeliaLight({
    blockstore: new MemoryBlockstore(),
    datastore: new MemoryDatastore(),
    routers: [],
    blockBrokers: []
  }), {
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify() }
  }) as any)
  await node.start()
  return node
}
