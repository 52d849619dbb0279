import fs from 'node:fs/promises'
import { InvalidConfigError, RepoExistsError, RepoNotInitializedError } from '../errors.js'
import { addMissingDefaults, defaultConfigText, parseConfig } from './config.js'
import { validateConfig } from './config-checks.js'
import { isInitialized, repoPaths } from './paths.js'
import type { Config } from './config.js'
import type { PrivateKey } from '@libp2p/interface'

export { resolveRepo, repoPaths, isInitialized } from './paths.js'
export type { RepoPaths } from './paths.js'
export { acquireLock, lockHolder, lockOwner } from './lock.js'
export type { AcquireLockOptions, LockRole, RepoLock } from './lock.js'

/**
 * Create a repo: an Ed25519 identity (mode 0600) and config.json from the given text (by default
 * configs/default.json). The config is checked before anything is written.
 */
export async function initRepo (root: string, options: { configText?: string } = {}): Promise<{ key: PrivateKey }> {
  const paths = repoPaths(root)
  if (await isInitialized(root)) {
    throw new RepoExistsError(root)
  }
  const configText = options.configText ?? await defaultConfigText()
  parseConfig(configText, 'the config template')
  await fs.mkdir(root, { recursive: true, mode: 0o700 })
  const { generateKeyPair, privateKeyToProtobuf } = await import('@libp2p/crypto/keys')
  const key = await generateKeyPair('Ed25519')
  await (await writeFileAtomic())(paths.key, Buffer.from(privateKeyToProtobuf(key)), { mode: 0o600, fsync: true })
  // written last: its presence marks the repo as initialized
  await (await writeFileAtomic())(paths.config, configText, { mode: 0o600, fsync: true })
  return { key }
}

/**
 * The repo's config. A config from an earlier shoal gains the keys added since, with their
 * defaults, and (unless `save` is false, for readers that hold no lock) is written back.
 */
export async function loadConfig (root: string, options: { save?: boolean } = {}): Promise<Config> {
  const file = repoPaths(root).config
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (err: any) {
    if (err.code === 'ENOENT') throw new RepoNotInitializedError(root)
    throw new InvalidConfigError(`cannot read ${file}: ${err.message}`)
  }
  // written back so the user sees the new keys; a config that is not JSON is left for
  // parseConfig to name
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return parseConfig(text, file)
  }
  const added = addMissingDefaults(raw, JSON.parse(await defaultConfigText()))
  if (added.length > 0) {
    const config = validateConfig(raw, file)
    if (options.save === false) return config
    await (await writeFileAtomic())(file, JSON.stringify(raw, null, 2) + '\n', { mode: 0o600, fsync: true })
    return config
  }
  return parseConfig(text, file)
}

export async function loadKey (root: string): Promise<PrivateKey> {
  const file = repoPaths(root).key
  let bytes: Uint8Array
  try {
    bytes = await fs.readFile(file)
  } catch (err: any) {
    if (err.code === 'ENOENT') throw new RepoNotInitializedError(root)
    throw err
  }
  // the keys' code is loaded only by what needs the identity, not by every command that opens the repo
  const { privateKeyFromProtobuf } = await import('@libp2p/crypto/keys')
  try {
    return privateKeyFromProtobuf(bytes)
  } catch {
    throw new InvalidConfigError(`${file} is not a valid private key: restore it from a backup, or start a new repo with "shoal init --repo DIR"`)
  }
}

/** write-file-atomic, loaded by the writes that use it: reads never do */
async function writeFileAtomic (): Promise<typeof import('write-file-atomic')> {
  return (await import('write-file-atomic')).default
}
