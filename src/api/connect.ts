import fs from 'node:fs/promises'
import { lockOwner } from '../peer/lock.js'
import { isInitialized, repoPaths, resolveRepo } from '../peer/paths.js'
import { DaemonNotReadyError, DaemonNotRunningError, RepoNotInitializedError } from '../errors.js'
import { createApiClient } from './client.js'
import type { RepoAccess, ShoalApi } from '../interface/types.js'

export type { RepoAccess }

export interface OpenApiOptions {
  repo?: string
  access: RepoAccess
  /** The command, named in the DaemonNotRunningError when it needs a daemon and none runs */
  what: string
  /**
   * How long to wait for a daemon that holds the repo but does not serve its API yet (starting)
   * @default 10 s
   */
  startWaitMs?: number
  /** Called once when the command starts waiting for a starting daemon */
  onWait?(pid: number): void
}

export interface OpenedApi {
  api: ShoalApi
  /** True when `api` talks to a running daemon */
  remote: boolean
  repo: string
  close(): Promise<void>
}

/** How long a command waits for a starting daemon's API by default */
const DAEMON_START_WAIT_MS = 10_000
/** How often it looks for the API meanwhile */
const DAEMON_POLL_MS = 50

/** The daemon's API address and token, when a live daemon holds the repo and serves it */
export async function daemonAddress (repo: string): Promise<{ address: string, token: string, pid: number } | undefined> {
  return (await daemonState(repo)).serving
}

interface DaemonState {
  serving?: { address: string, token: string, pid: number }
  /** A daemon holds the repo but its API is not written yet: it is starting (or stopping) */
  starting?: number
}

async function daemonState (repo: string): Promise<DaemonState> {
  const owner = await lockOwner(repo)
  if (owner == null) return {}
  const paths = repoPaths(repo)
  try {
    const address = (await fs.readFile(paths.api, 'utf8')).trim()
    const token = (await fs.readFile(paths.token, 'utf8')).trim()
    if (address !== '' && token !== '') return { serving: { address, token, pid: owner.pid } }
  } catch {}
  return owner.role === 'daemon' ? { starting: owner.pid } : {}
}

/**
 * The `ShoalApi` a CLI command should use: the running daemon of the repo if there is one,
 * otherwise (for commands that can run offline) the repo opened in process. A daemon that holds
 * the repo but is still starting is waited for, rather than raced for the repo.
 */
export async function openApi (options: OpenApiOptions): Promise<OpenedApi> {
  const repo = resolveRepo(options.repo)
  if (!await isInitialized(repo)) throw new RepoNotInitializedError(repo)
  let state = await daemonState(repo)
  if (state.starting != null) {
    options.onWait?.(state.starting)
    const deadline = Date.now() + (options.startWaitMs ?? DAEMON_START_WAIT_MS)
    while (state.starting != null && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, DAEMON_POLL_MS))
      state = await daemonState(repo)
    }
  }
  if (state.serving != null) {
    const client = createApiClient({ address: state.serving.address, token: state.serving.token })
    return { api: client, remote: true, repo, close: async () => { client.close() } }
  }
  if (options.access === 'daemon') {
    if (state.starting != null) throw new DaemonNotReadyError(repo, state.starting, options.what)
    throw new DaemonNotRunningError(repo, options.what)
  }
  // the peer's code is loaded only by commands that open the repo themselves
  const { createPeer } = await import('../peer/index.js')
  const peer = await createPeer({ repo, online: false, readOnly: options.access === 'read' })
  return { api: peer, remote: false, repo, close: async () => { await peer.stop() } }
}
