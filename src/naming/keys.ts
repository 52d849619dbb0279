/**
 * The repo's keychain: named Ed25519 keys that sign IPNS records, one file per key under
 * `keys/` (mode 0600, in a directory of mode 0700), in the libp2p private-key protobuf form that
 * Kubo's `key export` writes too. `self` is the peer's own identity key. A key leaves the repo
 * only through `export`.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { InvalidArgumentError, KeyExistsError, KeyNotFoundError } from '../errors.js'
import { isName, NAME_RULE } from '../names.js'
import { nameOfKey } from './records.js'
import type { PrivateKey } from '@libp2p/interface'

/** The peer's own key */
export const SELF = 'self'

export interface KeyInfo {
  /** The key's name in this repo */
  name: string
  /** The IPNS name it signs for (`k51...`) */
  id: string
}

export interface KeychainComponents {
  /** Where the keys live (`<repo>/keys`) */
  dir: string
  /** The peer's identity key, for `self` */
  self(): Promise<PrivateKey>
}

export class Keychain {
  private readonly components: KeychainComponents

  constructor (components: KeychainComponents) {
    this.components = components
  }

  async get (name: string): Promise<PrivateKey> {
    if (name === SELF) return this.components.self()
    let bytes: Uint8Array
    try {
      bytes = await fs.readFile(this.file(name))
    } catch (err: any) {
      if (err.code === 'ENOENT') throw new KeyNotFoundError(name)
      throw err
    }
    try {
      return privateKeyFromProtobuf(bytes)
    } catch {
      throw new InvalidArgumentError(`${this.file(name)} is not a valid private key: restore it from an export, or remove it with "shoal key rm ${name}"`)
    }
  }

  async list (): Promise<KeyInfo[]> {
    const out: KeyInfo[] = [await this.info(SELF)]
    let files: string[] = []
    try {
      files = await fs.readdir(this.components.dir)
    } catch (err: any) {
      if (err.code !== 'ENOENT') throw err
    }
    for (const f of files.sort()) {
      if (!f.endsWith('.key')) continue
      const name = f.slice(0, -'.key'.length)
      if (!isName(name) || name === SELF) continue
      // one unreadable key file does not hide the others
      const id = await this.info(name).then(i => i.id, () => '')
      out.push({ name, id })
    }
    return out
  }

  async info (name: string): Promise<KeyInfo> {
    return { name, id: nameOfKey(await this.get(name)).name }
  }

  /** Make a new Ed25519 key; a name in use is refused and its key kept */
  async generate (name: string): Promise<KeyInfo> {
    this.check(name)
    const key = await generateKeyPair('Ed25519')
    await this.write(name, key)
    return { name, id: nameOfKey(key).name }
  }

  /** Add a key from its exported form; a name in use is refused and its key kept */
  async import (name: string, bytes: Uint8Array): Promise<KeyInfo> {
    this.check(name)
    let key: PrivateKey
    try {
      key = privateKeyFromProtobuf(bytes)
    } catch {
      throw new InvalidArgumentError('the key to import is not a libp2p private key (the form "shoal key export" and Kubo\'s "ipfs key export" write)')
    }
    await this.write(name, key)
    return { name, id: nameOfKey(key).name }
  }

  /** The key in its exported form (libp2p private-key protobuf) */
  async export (name: string): Promise<Uint8Array> {
    return privateKeyToProtobuf(await this.get(name))
  }

  async remove (name: string): Promise<KeyInfo> {
    if (name === SELF) throw new InvalidArgumentError('the key "self" is the peer\'s identity: it cannot be removed')
    this.check(name)
    const info = await this.info(name)
    await fs.unlink(this.file(name))
    return info
  }

  private check (name: string): void {
    if (name === SELF) throw new KeyExistsError(SELF)
    if (!isName(name)) throw new InvalidArgumentError(`invalid key name "${String(name).slice(0, 100)}": a key name must be ${NAME_RULE}`)
  }

  private file (name: string): string {
    if (!isName(name)) throw new KeyNotFoundError(name)
    return path.join(this.components.dir, `${name}.key`)
  }

  /**
   * Written whole to a temporary file (mode 0600, synced) and linked into place: the link fails
   * if the name was taken meanwhile, so an existing key is never replaced
   */
  private async write (name: string, key: PrivateKey): Promise<void> {
    const dir = this.components.dir
    await fs.mkdir(dir, { recursive: true, mode: 0o700 })
    const tmp = path.join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`)
    const handle = await fs.open(tmp, 'wx', 0o600)
    try {
      await handle.writeFile(privateKeyToProtobuf(key))
      await handle.sync()
    } finally {
      await handle.close()
    }
    try {
      await fs.link(tmp, this.file(name))
    } catch (err: any) {
      if (err.code === 'EEXIST') throw new KeyExistsError(name)
      throw err
    } finally {
      await fs.unlink(tmp).catch(() => {})
    }
  }
}
