/**
 * The keychain: keys are files of mode 0600 in a directory of mode 0700, a name in use is never
 * overwritten, `self` is the identity and cannot be removed, and export/import carry a key whole.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { Keychain } from '../../src/naming/keys.js'
import { nameOfKey } from '../../src/naming/records.js'
import { tmpDir } from '../helpers/tmp.js'
import type { PrivateKey } from '@libp2p/interface'

describe('names: keychain', () => {
  let tmp: { dir: string, cleanup(): Promise<void> }
  let self: PrivateKey
  let keys: Keychain
  let dir: string

  before(async () => {
    tmp = await tmpDir()
    self = await generateKeyPair('Ed25519')
    dir = path.join(tmp.dir, 'keys')
    keys = new Keychain({ dir, self: async () => self })
  })

  after(async () => {
    await tmp?.cleanup()
  })

  it('makes keys as files of mode 0600 in a directory of mode 0700', async () => {
    const info = await keys.generate('site')
    assert.match(info.id, /^k51/)
    assert.equal((await fs.stat(dir)).mode & 0o777, 0o700)
    assert.equal((await fs.stat(path.join(dir, 'site.key'))).mode & 0o777, 0o600)
    assert.equal(nameOfKey(await keys.get('site')).name, info.id)
  })

  it('refuses a name in use and keeps its key; refuses bad names', async () => {
    const before = await keys.info('site')
    await assert.rejects(keys.generate('site'), { name: 'KeyExistsError' })
    await assert.rejects(keys.generate('self'), { name: 'KeyExistsError' })
    assert.deepEqual(await keys.info('site'), before)
    for (const bad of ['', '../x', 'A', 'a/b', '.hidden', 'x'.repeat(65)]) {
      await assert.rejects(keys.generate(bad), { name: 'InvalidArgumentError' }, bad)
    }
    assert.deepEqual((await fs.readdir(dir)).sort(), ['site.key'], 'no temporary file is left behind')
  })

  it('lists self first, then the keys by name', async () => {
    await keys.generate('blog')
    const list = await keys.list()
    assert.deepEqual(list.map(k => k.name), ['self', 'blog', 'site'])
    assert.equal(list[0].id, nameOfKey(self).name)
  })

  it('export and import carry a key whole, and import refuses what is not a key', async () => {
    const exported = await keys.export('site')
    const other = new Keychain({ dir: path.join(tmp.dir, 'other'), self: async () => self })
    const imported = await other.import('copy', exported)
    assert.equal(imported.id, (await keys.info('site')).id)
    assert.equal((await fs.stat(path.join(tmp.dir, 'other', 'copy.key'))).mode & 0o777, 0o600)
    await assert.rejects(other.import('junk', new Uint8Array([1, 2, 3])), { name: 'InvalidArgumentError' })
    await assert.rejects(other.import('copy', exported), { name: 'KeyExistsError' })
    assert.equal((await keys.export('self')).byteLength > 0, true)
  })

  it('removes a key, never self', async () => {
    await assert.rejects(keys.remove('self'), { name: 'InvalidArgumentError' })
    await keys.remove('blog')
    await assert.rejects(keys.get('blog'), { name: 'KeyNotFoundError' })
    await assert.rejects(keys.remove('blog'), { name: 'KeyNotFoundError' })
  })
})
