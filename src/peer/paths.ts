/**
 * Where a repo and each of its parts are: what every command needs first, kept apart from the
 * rest of the repo's code so that reading it loads nothing else
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { DEFAULT_REPO_DIRNAME, REPO_ENV } from '../constants.js'

/** Where each part of a repo lives */
export interface RepoPaths {
  root: string
  config: string
  key: string
  store: string
  datastore: string
  lock: string
  /** HOST:PORT of the running daemon's control API */
  api: string
  /** The running daemon's API token */
  token: string
  /** HOST:PORT of the running daemon's HTTP gateway */
  gateway: string
}

/** `--repo DIR`, else `$SHOAL_REPO`, else `~/.shoal` */
export function resolveRepo (flag?: string): string {
  // an empty value counts as unset, so `SHOAL_REPO=` never means the current directory
  const dir = nonEmpty(flag) ?? nonEmpty(process.env[REPO_ENV]) ?? path.join(os.homedir(), DEFAULT_REPO_DIRNAME)
  return path.resolve(dir)
}

function nonEmpty (s?: string): string | undefined {
  return s != null && s !== '' ? s : undefined
}

export function repoPaths (root: string): RepoPaths {
  return {
    root,
    config: path.join(root, 'config.json'),
    key: path.join(root, 'identity.key'),
    store: path.join(root, 'store'),
    datastore: path.join(root, 'datastore'),
    lock: path.join(root, 'repo.lock'),
    api: path.join(root, 'api'),
    token: path.join(root, 'api.token'),
    gateway: path.join(root, 'gateway')
  }
}

export async function isInitialized (root: string): Promise<boolean> {
  try {
    await fs.access(repoPaths(root).config)
    return true
  } catch {
    return false
  }
}
