/**
 * The name commands of `ShoalApi`: the keychain (key gen, ls, rm, export, import), names (name
 * publish, name resolve) and following names (follow, unfollow, following). All work offline on
 * the repo; online, records also travel on gossip and in the DHT.
 */
import { InvalidArgumentError } from '../errors.js'
import type { AbortOptions, FollowedName, KeyExport, KeyInfo, NamePublishOptions, NameResult, NameUpdate, UnfollowResult } from '../interface/types.js'
import type { Names, ResolvedName } from '../naming/index.js'

const second = 1000
/** A record valid for less is expired before it reaches anyone */
const MIN_LIFETIME = second

export interface NameComponents {
  /** The peer's names, loaded when a command first needs them */
  names(): Promise<Pick<Names, 'keys' | 'follower' | 'publish' | 'resolve' | 'watch'>>
}

export class NameCommands {
  private readonly components: NameComponents

  constructor (components: NameComponents) {
    this.components = components
  }

  async keyGen (name: string): Promise<KeyInfo> {
    return (await this.components.names()).keys.generate(name)
  }

  async keyLs (): Promise<KeyInfo[]> {
    return (await this.components.names()).keys.list()
  }

  async keyRm (name: string): Promise<KeyInfo> {
    return (await this.components.names()).keys.remove(name)
  }

  async keyExport (name: string): Promise<KeyExport> {
    return { name, key: Buffer.from(await (await this.components.names()).keys.export(name)).toString('base64') }
  }

  async keyImport (name: string, options?: AbortOptions & { key: string }): Promise<KeyInfo> {
    if (options == null || !/^[A-Za-z0-9+/]+={0,2}$/.test(options.key) || options.key.length > 16 * 1024) {
      throw new InvalidArgumentError('"key" must be a key in base64, as "shoal key export" gives it')
    }
    return (await this.components.names()).keys.import(name, Buffer.from(options.key, 'base64'))
  }

  async namePublish (value: string, options: NamePublishOptions = {}): Promise<NameResult> {
    if (options.lifetimeMs != null && options.lifetimeMs < MIN_LIFETIME) {
      throw new InvalidArgumentError(`"lifetimeMs" must be at least ${MIN_LIFETIME} ms`)
    }
    return (await this.components.names()).publish(value, options)
  }

  async nameResolve (name: string, options: AbortOptions = {}): Promise<NameResult> {
    return withoutRecord(await (await this.components.names()).resolve(name, options))
  }

  async * watchNames (options: AbortOptions = {}): AsyncGenerator<NameUpdate> {
    yield * (await this.components.names()).watch(options.signal)
  }

  /** Follow a name; online, its newest version is looked up and fetched at once */
  async follow (name: string): Promise<FollowedName> {
    const names = await this.components.names()
    const followed = await names.follower.add(name)
    void names.resolve(followed.name).then(
      (r) => { names.follower.offer(r.name, r) },
      () => {}
    )
    return followed
  }

  async unfollow (name: string): Promise<UnfollowResult> {
    return (await this.components.names()).follower.remove(name)
  }

  async following (): Promise<FollowedName[]> {
    const { follower } = await this.components.names()
    await follower.load()
    return follower.list()
  }
}

function withoutRecord (r: ResolvedName): NameResult {
  const { record: _record, ...info } = r
  return info
}
