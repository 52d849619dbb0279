import fs from 'node:fs/promises'
import path from 'node:path'
import { createApiClient } from '../../src/api/index.js'
import { spawnLoopbackDaemon } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'
import { complianceSuite } from './compliance.js'

complianceSuite('HTTP client of a daemon process', async () => {
  const tmp = await tmpDir()
  const a = await spawnLoopbackDaemon(path.join(tmp.dir, 'a'))
  const b = await spawnLoopbackDaemon(path.join(tmp.dir, 'b'))
  const token = (await import('node:fs/promises')).readFile(path.join(a.repo, 'api.token'), 'utf8')
  const client = createApiClient({ address: a.api, token: (await token).trim() })
  const otherClient = createApiClient({ address: b.api, token: (await fs.readFile(path.join(b.repo, 'api.token'), 'utf8')).trim() })
  return {
    api: client,
    other: { peerId: b.peerId, address: b.addresses[0] ?? '', api: otherClient },
    teardown: async () => {
      client.close()
      otherClient.close()
      await a.stop()
      await b.stop()
      await tmp.cleanup()
    }
  }
})
