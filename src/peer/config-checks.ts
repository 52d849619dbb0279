/**
 * What a config may hold: one check per key, and `validateConfig`, which runs them all. A check
 * returns what is wrong with a value (or nothing); only `validateConfig` throws, with the file's
 * name in front, so every problem with a config reaches the user as one `InvalidConfigError`.
 */
import { PROFILES } from '../constants.js'
import { InvalidArgumentError, InvalidConfigError } from '../errors.js'
import { isName, NAME_RULE } from '../names.js'
import { parseCidr } from '../host/cidr.js'
import { ENCRYPTERS } from '../host/encrypters.js'
import type { Config } from './config.js'

/** What is wrong with `value` at `key`, or undefined when nothing is */
type Check = (value: unknown, key: string) => string | undefined

const str: Check = (v, k) => typeof v !== 'string' || v === '' ? `${k} must be a non-empty string` : undefined
const bool: Check = (v, k) => typeof v !== 'boolean' ? `${k} must be true or false` : undefined
const posInt: Check = (v, k) => typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 ? `${k} must be a whole number of 1 or more` : undefined
const nonNegInt: Check = (v, k) => typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 ? `${k} must be a whole number of 0 or more` : undefined
const nonNegNum: Check = (v, k) => typeof v !== 'number' || !Number.isFinite(v) || v < 0 ? `${k} must be a number of 0 or more` : undefined
const optStr: Check = (v, k) => typeof v !== 'string' ? `${k} must be a string (empty for none)` : undefined
const swarmName: Check = (v, k) => !isName(v) ? `${k} must be ${NAME_RULE}` : undefined
const clientMode: Check = (v, k) => typeof v !== 'boolean' && v !== 'auto' ? `${k} must be "auto", true (client) or false (server)` : undefined
const oneOf = (values: readonly string[]): Check => (v, k) =>
  typeof v !== 'string' || !values.includes(v) ? `${k} must be one of ${values.join(', ')}` : undefined

/** A list of at most `max` items, each passing `item` (which names the bad one) */
const listOf = (max: number, what: string, item: (v: unknown) => boolean, bad: (k: string, v: unknown) => string): Check => (v, k) => {
  if (!Array.isArray(v) || v.length > max) return `${k} must be a list of at most ${max} ${what}`
  const wrong = v.findIndex(x => !item(x))
  return wrong === -1 ? undefined : bad(k, v[wrong])
}

/** A list of multiaddrs in shape; each is parsed by `checkAddresses` (online only) */
const maddrs = listOf(1024, 'multiaddrs', a => typeof a === 'string' && a.startsWith('/'), (k, a) => `${k} has an invalid multiaddr "${String(a)}"`)
/** IPv4 or IPv6 CIDRs, such as 10.77.0.0/24 */
const cidrs = listOf(64, 'CIDRs', c => typeof c === 'string' && parseCidr(c) != null,
  (k, c) => `${k} has an invalid CIDR "${String(c)}": expected something like 10.77.0.0/24`)
const strList = (max: number, maxLength: number): Check => listOf(max, 'strings', s => typeof s === 'string' && s !== '' && s.length <= maxLength,
  k => `${k} entries must be non-empty strings of at most ${maxLength} characters`)
/** IPNS names in shape (`k51...`, a peer id, either after /ipns/); the peer parses them as it starts */
const ipnsNames = listOf(256, 'IPNS names', n => typeof n === 'string' && /^(\/ipns\/)?[a-zA-Z0-9]{40,100}$/.test(n),
  (k, n) => `${k} has "${String(n).slice(0, 100)}", which is not an IPNS name (k51...)`)

/** Connection encrypters: at least one, each known, none twice */
const encrypters: Check = (v, k) => {
  if (!Array.isArray(v) || v.length === 0) return `${k} must be a non-empty list of ${ENCRYPTERS.join(', ')}`
  const unknown = v.find(e => !ENCRYPTERS.includes(e))
  if (unknown !== undefined) return `${k} has "${String(unknown).slice(0, 100)}": each must be one of ${ENCRYPTERS.join(', ')}`
  return new Set(v).size !== v.length ? `${k} names an encrypter twice` : undefined
}

const hostPortCheck = (loopbackOnly: boolean): Check => (v, k) => {
  const notString = str(v, k)
  if (notString != null) return notString
  try {
    parseHostPort(v as string, k, { loopbackOnly })
  } catch (err: any) {
    if (!(err instanceof InvalidArgumentError)) throw err
    return err.message
  }
}

const SCHEMA: Record<string, Record<string, Check> | Check> = {
  swarm: swarmName,
  swarmKey: optStr,
  discovery: { mdns: bool, rendezvous: bool, rendezvousIntervalMs: posInt },
  addresses: { listen: maddrs, announce: maddrs },
  api: { address: hostPortCheck(true) },
  gateway: { enabled: bool, address: hostPortCheck(false), retrievalTimeoutMs: posInt, maxConcurrentRequests: posInt },
  metrics: { enabled: bool },
  bootstrap: maddrs,
  encrypters,
  limits: { maxConnections: posInt, maxIncomingPendingConnections: posInt, inboundConnectionThreshold: posInt, dialTimeoutMs: posInt },
  dht: { protocol: str, clientMode, peerAddresses: oneOf(['public', 'private', 'all']), reprovideIntervalMs: posInt, recordLifetimeMs: posInt },
  gossip: { presenceIntervalMs: posInt, presenceBudget: nonNegNum, colocationWhitelist: strList(64, 64) },
  replicate: { enabled: bool, tags: strList(16, 64), maxFileSize: nonNegInt, maxTotalBytes: nonNegInt, follow: ipnsNames, keepVersions: posInt },
  names: { lifetimeMs: posInt, ttlMs: nonNegInt, republishIntervalMs: posInt, gossip: bool },
  store: { fsync: bool, quota: nonNegInt },
  publish: { profile: oneOf(PROFILES) },
  nat: { publicRanges: cidrs, upnp: bool },
  relay: { client: bool, relays: maddrs, service: bool, maxReservations: posInt, maxReservationsPerIp: nonNegInt, circuitBytes: nonNegInt, circuitDurationMs: nonNegInt },
  exchange: { uploadSlots: posInt, uploadRate: nonNegInt, downloadRate: nonNegInt, maxInboundStreams: posInt, maxRequestsPerStream: posInt, perf: bool, bitswap: bool }
}

/** What is wrong with one top-level key's value, section keys included */
function checkKey (key: string, check: Record<string, Check> | Check, value: unknown): string | undefined {
  if (typeof check === 'function') return check(value, key)
  if (value == null || typeof value !== 'object' || Array.isArray(value)) return `${key} must be an object`
  const section = value as Record<string, unknown>
  const unknown = Object.keys(section).find(sub => !Object.hasOwn(check, sub))
  if (unknown != null) return `unknown key "${key}.${unknown}"`
  for (const [sub, subCheck] of Object.entries(check)) {
    if (!Object.hasOwn(section, sub)) return `missing key "${key}.${sub}"`
    const wrong = subCheck(section[sub], `${key}.${sub}`)
    if (wrong != null) return wrong
  }
}

/** The longest timer Node keeps (2^31 - 1 ms) */
const MAX_TIMER_MS = 2 ** 31 - 1

/** The IPFS (Amino) DHT's protocol: a peer in it is a provider to every IPFS node */
export const AMINO_DHT_PROTOCOL = '/ipfs/kad/1.0.0'

/** What is wrong with a config whose every value has its type: settings that contradict each other */
function checkTogether (config: Config): string | undefined {
  if (config.dht.recordLifetimeMs <= config.dht.reprovideIntervalMs) {
    return 'dht.recordLifetimeMs must be longer than dht.reprovideIntervalMs, or records expire before they are provided again'
  }
  if (config.names.lifetimeMs <= config.names.republishIntervalMs) {
    return 'names.lifetimeMs must be longer than names.republishIntervalMs, or records expire before they are put in the DHT again'
  }
  if (config.relay.circuitDurationMs > MAX_TIMER_MS) {
    return `relay.circuitDurationMs must be at most ${MAX_TIMER_MS} (about 24 days), or 0 for no limit`
  }
  if (config.dht.protocol === AMINO_DHT_PROTOCOL && !config.exchange.bitswap) {
    return `exchange.bitswap must be on in the IPFS DHT (${AMINO_DHT_PROTOCOL}): what a peer provides there, any IPFS node must be able to fetch over bitswap`
  }
}

/** Check a parsed config: every key known, every value of its type, nothing missing; `source` names it in errors */
export function validateConfig (raw: unknown, source: string): Config {
  const fail = (msg: string): never => { throw new InvalidConfigError(`${source}: ${msg}`) }
  if (raw == null || typeof raw !== 'object' || Array.isArray(raw)) fail('must be a JSON object')
  const obj = raw as Record<string, unknown>
  const unknown = Object.keys(obj).find(key => !Object.hasOwn(SCHEMA, key))
  if (unknown != null) fail(`unknown key "${unknown}"`)
  for (const [key, check] of Object.entries(SCHEMA)) {
    if (!Object.hasOwn(obj, key)) fail(`missing key "${key}"`)
    const wrong = checkKey(key, check, obj[key])
    if (wrong != null) fail(wrong)
  }
  const config = obj as unknown as Config
  const contradiction = checkTogether(config)
  if (contradiction != null) fail(contradiction)
  return config
}

/**
 * `HOST:PORT` (IPv6 as `[::1]:PORT`) to its parts; the control API binds loopback only.
 * InvalidArgumentError naming `what` when it is not (a config's check returns its message)
 */
export function parseHostPort (value: string, what: string, options: { loopbackOnly?: boolean } = {}): { host: string, port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value)
  const host = m?.[1] ?? m?.[2]
  const port = Number(m?.[3])
  if (m == null || host == null || port > 65535) {
    throw new InvalidArgumentError(`${what} must be HOST:PORT, for example 127.0.0.1:5080 (got "${value}")`)
  }
  if (options.loopbackOnly !== false && !isLoopback(host)) {
    throw new InvalidArgumentError(`${what} must be a loopback address (127.0.0.1, ::1 or localhost); got "${host}"`)
  }
  return { host, port }
}

export function isLoopback (host: string): boolean {
  if (host === 'localhost' || host === '::1') return true
  const parts = host.split('.')
  return parts.length === 4 && parts[0] === '127' && parts.every(p => /^\d{1,3}$/.test(p) && Number(p) <= 255)
}
