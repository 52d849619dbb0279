import assert from 'node:assert/strict'
import fs from 'node:fs/promises'
import path from 'node:path'
import { CONFIG_DEFAULTS } from '../src/defaults.js'
import { CONFIGS_DIR } from '../src/peer/config.js'
import { validateConfig } from '../src/peer/config-checks.js'

describe('defaults: what a user may configure', () => {
  it('are configs/default.json, a valid config, and no caller can change them', async () => {
    const file = JSON.parse(await fs.readFile(path.join(CONFIGS_DIR, 'default.json'), 'utf8'))
    assert.deepEqual(CONFIG_DEFAULTS, file)
    validateConfig(structuredClone(CONFIG_DEFAULTS), 'configs/default.json')
    assert.throws(() => { (CONFIG_DEFAULTS.exchange as { uploadSlots: number }).uploadSlots = 1 }, TypeError)
    assert.throws(() => { (CONFIG_DEFAULTS.addresses.listen as string[]).push('/ip4/127.0.0.1/tcp/0') }, TypeError)
    assert.equal(CONFIG_DEFAULTS.exchange.uploadSlots, file.exchange.uploadSlots)
  })
})
