/**
 * The control API: one `ShoalApi` interface, served by a daemon over HTTP on loopback with a
 * token, and a client of it that the CLI uses when a daemon runs.
 */
export type * from '../interface/types.js'
export { calls, accessOf } from '../interface/calls.js'
export type { Call, CallName, Reply } from '../interface/calls.js'
export { createApiServer } from './server.js'
export type { ApiServer, ApiServerInit } from './server.js'
export { createApiClient } from './client.js'
export type { ApiClientInit } from './client.js'
export { openApi, daemonAddress } from './connect.js'
export type { OpenApiOptions, OpenedApi, RepoAccess } from './connect.js'
export { startDaemon } from './daemon.js'
export type { Daemon, DaemonInit } from './daemon.js'
/** Entries of a file or directory on disk, ready for `ShoalApi.publish` */
export { fsSource, parseContentPath } from '../content/index.js'
export { initRepo, resolveRepo, swarmConfigText } from '../peer/index.js'
