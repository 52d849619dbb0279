import path from 'node:path'
import { createPeer, initRepo } from '../../src/peer/index.js'
import { testConfig } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import { complianceSuite } from './compliance.js'
import type { ShoalPeer } from '../../src/peer/index.js'

async function localPeer (dir: string): Promise<ShoalPeer> {
  await initRepo(dir, { configText: JSON.stringify(await testConfig()) })
  const peer = await createPeer({ repo: dir, online: true })
  return peer
}

complianceSuite('in-process peer', async () => {
  const tmp = await tmpDir()
  const peer = await localPeer(path.join(tmp.dir, 'a'))
  const other = await localPeer(path.join(tmp.dir, 'b'))
  const otherId = await other.id()
  return {
    api: peer,
    other: { peerId: otherId.peerId, address: otherId.addresses[0] ?? '', api: other },
    teardown: async () => {
      await peer.stop()
      await other.stop()
      await tmp.cleanup()
    }
  }
})
