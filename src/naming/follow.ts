/**
 * Following names: a mirror fetches each new version of a followed name as soon as its record
 * arrives, pins it, keeps the last `keepVersions` and unpins older ones. A version that fails to
 * fetch leaves the previous one current (served) and is tried again a few times. Fetching asks
 * only for blocks the store lacks, so a version that changed one page moves one page.
 *
 * What is followed: `replicate.follow` in the config and the names added with `shoal follow`
 * (kept in `names/follow.json` with the versions held).
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { CID } from 'multiformats/cid'
import { InvalidConfigError } from '../errors.js'
import { parseName } from './records.js'
import type { Pin } from '../store/index.js'
import type { Logger } from '@libp2p/interface'

const second = 1000
/** A version that failed to fetch is tried again this many times, this far apart */
const RETRIES = 3
const RETRY_DELAY = 10 * second

export interface Version {
  sequence: number
  /** The record's value, `/ipfs/<cid>[/path]` */
  value: string
  /** The root fetched and pinned */
  cid: string
  /** When its record arrived here (ms since the epoch) */
  heardAt?: number
  /** When it was fetched in full (ms since the epoch) */
  at: number
  /** Bytes of blocks fetched for it (what the store lacked), when known */
  fetchedBytes?: number
}

export interface FollowedName {
  name: string
  /** Followed because the config says so, or because `shoal follow` added it */
  source: 'config' | 'repo'
  /** The newest version fetched in full: what this peer serves for the name */
  current?: Version
  /** Versions kept, newest first (the current one included) */
  versions: Version[]
  /** Why the newest record's version could not be fetched, while it could not */
  failed?: string
}

export interface FollowerComponents {
  /** The file the followed names and their versions are kept in */
  file: string
  /**
   * Fetch a DAG (only the blocks missing) and pin it by `pinName` with origin `follow`; `peers`
   * (peer ids) are likely to have it: the peer that published the record is asked at once,
   * beside the connected peers that say they have the root. `onWhole` is called once every block
   * is in the store, before the size walk and the pin (up to seconds on a busy disk), while gc
   * and eviction are still kept off the DAG until the pin is written
   */
  fetch(cid: string, pinName: string, hints?: { peers?: string[], onWhole?: () => void }): Promise<{ fetchedBytes: number } | undefined>
  pins: { get(cid: CID): Promise<Pin | undefined> }
  unpin(cid: CID): Promise<void>
  log: Logger
  /** A version became current */
  onVersion?(name: string, version: Version): void
}

export interface FollowerInit {
  /** Names the config follows (`replicate.follow`) */
  follow: string[]
  /** Versions kept per name (`replicate.keepVersions`), 1 or more */
  keepVersions: number
}

interface FollowFile {
  /** Names added with `shoal follow` */
  follow: string[]
  versions: Record<string, Version[]>
}

export class Follower {
  private readonly components: FollowerComponents
  private readonly keep: number
  private readonly configured: Set<string>
  private state: FollowFile = { follow: [], versions: {} }
  private readonly wanted = new Map<string, { sequence: number, value: string, tries: number, heardAt: number, author?: string }>()
  private readonly running = new Map<string, Promise<void>>()
  private readonly failed = new Map<string, string>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private stopped = false
  private started = false
  private loaded?: Promise<void>
  /** Why the file of followed names cannot be read, when it cannot */
  private unreadable?: string

  constructor (components: FollowerComponents, init: FollowerInit) {
    this.components = components
    this.keep = Math.max(1, init.keepVersions)
    this.configured = new Set(init.follow.map(n => parseName(n).name))
  }

  /** Read the file of followed names, once; every call waits for that one read */
  async load (): Promise<void> {
    this.loaded ??= this.read()
    return this.loaded
  }

  /** Versions are fetched for the records offered from now on (a running peer) */
  start (): void {
    this.started = true
  }

  private async read (): Promise<void> {
    try {
      const raw = JSON.parse(await fs.readFile(this.components.file, 'utf8'))
      this.state = {
        follow: Array.isArray(raw.follow) ? raw.follow.filter((n: unknown) => typeof n === 'string') : [],
        versions: raw.versions != null && typeof raw.versions === 'object' ? raw.versions : {}
      }
    } catch (err: any) {
      if (err.code === 'ENOENT') return
      // kept as it is: it is never written over while it cannot be read
      this.unreadable = String(err.message).split('\n')[0]
      this.components.log('%s cannot be read (%s): following from the config alone', this.components.file, this.unreadable)
    }
  }

  /** Whether a name (`k51...`) is followed */
  follows (name: string): boolean {
    return this.configured.has(name) || this.state.follow.includes(name)
  }

  list (): FollowedName[] {
    const names = [...new Set([...this.configured, ...this.state.follow])]
    return names.map(name => {
      const versions = this.state.versions[name] ?? []
      const failed = this.failed.get(name)
      return {
        name,
        source: this.configured.has(name) ? 'config' : 'repo',
        ...(versions[0] != null ? { current: versions[0] } : {}),
        versions,
        ...(failed != null ? { failed } : {})
      }
    })
  }

  /** The version served for a followed name, if one was fetched */
  current (name: string): Version | undefined {
    return this.state.versions[name]?.[0]
  }

  async add (name: string): Promise<FollowedName> {
    const n = parseName(name).name
    await this.writable()
    if (!this.follows(n)) {
      this.state.follow.push(n)
      await this.save()
    }
    return this.list().find(f => f.name === n) as FollowedName
  }

  /**
   * Stop following a name added with `shoal follow`, and unpin the versions kept of it (their
   * blocks go at the next gc unless pinned otherwise); a name the config follows stays
   */
  async remove (name: string): Promise<{ name: string, unpinned: string[] }> {
    const n = parseName(name).name
    await this.writable()
    if (this.configured.has(n)) return { name: n, unpinned: [] }
    this.state.follow = this.state.follow.filter(f => f !== n)
    const unpinned = await this.unpinAll(this.state.versions[n] ?? [], [])
    delete this.state.versions[n]
    this.wanted.delete(n)
    this.failed.delete(n)
    await this.save()
    return { name: n, unpinned }
  }

  /**
   * A record of `name` arrived: its version is fetched if it is followed and newer than held.
   * `author`: the peer id that published it on gossip, asked for the version first
   */
  offer (name: string, record: { sequence: number, value: string }, author?: string): void {
    if (!this.started || this.stopped || !this.follows(name)) return
    const newest = Math.max(this.current(name)?.sequence ?? -1, this.wanted.get(name)?.sequence ?? -1)
    if (record.sequence <= newest) return
    this.wanted.set(name, { sequence: record.sequence, value: record.value, tries: 0, heardAt: Date.now(), ...(author != null ? { author } : {}) })
    this.run(name)
  }

  /** Resolves when no fetch is running (tests, shutdown) */
  async idle (): Promise<void> {
    while (this.running.size > 0) await Promise.all(this.running.values())
  }

  stop (): void {
    this.stopped = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.wanted.clear()
  }

  private run (name: string): void {
    if (this.running.has(name)) return
    const p = this.drain(name).finally(() => { this.running.delete(name) })
    this.running.set(name, p)
  }

  /** Fetch the wanted version of a name, then any newer one that arrived meanwhile */
  private async drain (name: string): Promise<void> {
    while (!this.stopped) {
      const want = this.wanted.get(name)
      if (want == null) return
      this.wanted.delete(name)
      const cid = rootOf(want.value)
      if (cid == null) {
        this.failed.set(name, `sequence ${want.sequence} points to ${want.value}, which is not an /ipfs/ path`)
        continue
      }
      let fetchedBytes: number | undefined
      // served from the moment the DAG is whole: the pin that follows (a size walk and a write
      // the disk may hold up for seconds) keeps it, it does not make it servable
      let whole: Version | undefined
      const onWhole = (): void => {
        if (this.stopped || want.sequence <= (this.current(name)?.sequence ?? -1)) return
        whole = { sequence: want.sequence, value: want.value, cid, heardAt: want.heardAt, at: Date.now() }
        // the versions past keepVersions are unpinned once this one is pinned
        this.state.versions[name] = [whole, ...(this.state.versions[name] ?? [])]
      }
      const without = (v: Version): Version[] => (this.state.versions[name] ?? []).filter(x => x !== v)
      try {
        fetchedBytes = (await this.components.fetch(cid, `${name}@${want.sequence}`, { ...(want.author != null ? { peers: [want.author] } : {}), onWhole }))?.fetchedBytes
      } catch (err: any) {
        // whole but not pinned: what was served before is served again
        if (whole != null) {
          const rest = without(whole)
          if (rest.length > 0) this.state.versions[name] = rest
          else delete this.state.versions[name]
        }
        const why = `sequence ${want.sequence} (${cid}) could not be fetched: ${String(err.message).split('\n')[0]}`
        this.failed.set(name, why)
        this.components.log('%s', why)
        if (want.tries + 1 < RETRIES) {
          this.later(() => {
            // unless a newer record came meanwhile
            if ((this.wanted.get(name)?.sequence ?? -1) >= want.sequence || (this.current(name)?.sequence ?? -1) >= want.sequence) return
            this.wanted.set(name, { ...want, tries: want.tries + 1 })
            this.run(name)
          })
        }
        continue
      }
      // a newer version fetched meanwhile stays current
      if (whole == null && want.sequence <= (this.current(name)?.sequence ?? -1)) continue
      this.failed.delete(name)
      const version: Version = { sequence: want.sequence, value: want.value, cid, heardAt: want.heardAt, at: whole?.at ?? Date.now(), ...(fetchedBytes != null ? { fetchedBytes } : {}) }
      const versions = [version, ...(whole != null ? without(whole) : this.state.versions[name] ?? [])]
      const kept = versions.slice(0, this.keep)
      this.state.versions[name] = kept
      await this.save()
      await this.unpinAll(versions.slice(this.keep), kept)
      this.components.onVersion?.(name, version)
    }
  }

  private later (fn: () => void): void {
    const t = setTimeout(() => { this.timers.delete(t); if (!this.stopped) fn() }, RETRY_DELAY)
    this.timers.add(t)
  }

  /** Unpin versions no longer kept: only pins this follower made, and not a root a kept version shares */
  private async unpinAll (dropped: Version[], kept: Version[]): Promise<string[]> {
    const keep = new Set(kept.map(v => v.cid))
    const out: string[] = []
    for (const v of dropped) {
      if (keep.has(v.cid)) continue
      try {
        const cid = CID.parse(v.cid)
        const pin = await this.components.pins.get(cid)
        if (pin?.origin !== 'follow') continue
        await this.components.unpin(cid)
        out.push(v.cid)
      } catch (err: any) {
        this.components.log('could not unpin %s: %s', v.cid, err.message)
      }
    }
    return out
  }

  /** The file, read, and fit to be written: one that cannot be read is refused, not replaced */
  private async writable (): Promise<void> {
    await this.load()
    if (this.unreadable != null) {
      throw new InvalidConfigError(`${this.components.file} cannot be read (${this.unreadable}): fix it, or move it aside to follow names anew`)
    }
  }

  private async save (): Promise<void> {
    if (this.unreadable != null) return
    await fs.mkdir(path.dirname(this.components.file), { recursive: true, mode: 0o700 })
    const writeFileAtomic = (await import('write-file-atomic')).default
    await writeFileAtomic(this.components.file, JSON.stringify(this.state, null, 2) + '\n', { mode: 0o600 })
  }
}

/** The root CID of an `/ipfs/<cid>[/path]` value */
export function rootOf (value: string): string | undefined {
  const parts = value.split('/')
  if (parts[1] !== 'ipfs' || parts[2] == null) return undefined
  try {
    return CID.parse(parts[2]).toString()
  } catch {
    return undefined
  }
}
