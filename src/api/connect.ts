import fs from 'node:fs/promises'
import { createPeer, isInitialized, lockHolder, repoPaths, resolveRepo } from '../peer/index.js'
import { DaemonNotRunningError, RepoNotInitializedError } from '../errors.js'
import { createApiClient } from './client.js'
import type { ShoalApi } from './types.js'

export interface OpenApiOptions {
  repo?: string
  /**
   * Whether the command can run on the repo directly when no daemon runs; when false and none
   * runs, `what` names the command in the DaemonNotRunningError
   */
  offline: boolean
  what: string
}

export interface OpenedApi {
  api: ShoalApi
  /** True when `api` talks to a running daemon */
  remote: boolean
  repo: string
  close(): Promise<void>
}

/** The daemon's API address and token, when a live daemon holds the repo */
export async function daemonAddress (repo: string): Promise<{ address: string, token: string, pid: number } | undefined> {
  const pid = await lockHolder(repo)
  if (pid == null) return undefined
  const paths = repoPaths(repo)
  try {
    const address = (await fs.readFile(paths.api, 'utf8')).trim()
    const token = (await fs.readFile(paths.token, 'utf8')).trim()
    if (address === '' || token === '') return undefined
    return { address, token, pid }
  } catch {
    return undefined
  }
}

/**
 * The `ShoalApi` a CLI command should use: the running daemon of the repo if there is one,
 * otherwise (for commands that can run offline) the repo opened in process.
 */
export async function openApi (options: OpenApiOptions): Promise<OpenedApi> {
  const repo = resolveRepo(options.repo)
  if (!await isInitialized(repo)) throw new RepoNotInitializedError(repo)
  const daemon = await daemonAddress(repo)
  if (daemon != null) {
    const client = createApiClient({ address: daemon.address, token: daemon.token })
    return { api: client, remote: true, repo, close: async () => { client.close() } }
  }
  if (!options.offline) throw new DaemonNotRunningError(repo, options.what)
  const peer = await createPeer({ repo, online: false })
  try {
    await peer.start()
  } catch (err) {
    await peer.stop()
    throw err
  }
  return { api: peer, remote: false, repo, close: async () => { await peer.stop() } }
}
