/**
 * IPNS records (the IPNS record spec), made and checked with the `ipns` package so that what
 * shoal signs validates in Helia and Kubo and what they sign resolves here. No I/O: names,
 * records and the reasons a record is refused.
 */
import { peerIdFromCID, peerIdFromString } from '@libp2p/peer-id'
import { createIPNSRecord, marshalIPNSRecord, multihashToIPNSRoutingKey, unmarshalIPNSRecord } from 'ipns'
import { ipnsValidator } from 'ipns/validator'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import { InvalidNameError, InvalidRecordError } from '../errors.js'
import type { PrivateKey } from '@libp2p/interface'
import type { IPNSRecord } from 'ipns'

const KiB = 1024
const millisecond = 1_000_000n
/**
 * Largest record accepted from anywhere, checked before it is decoded: the limit of the IPNS
 * record spec, which Kubo and Helia enforce too
 */
export const MAX_RECORD_BYTES = 10 * KiB
/** CID codec of a public key (`libp2p-key`), as IPNS names are written */
const LIBP2P_KEY = 0x72

/** A name, parsed: its canonical form and the key it is stored under in the DHT */
export interface IpnsName {
  /** The name as a CIDv1 in base36 (`k51...`) */
  name: string
  /** `/ipns/` + the multihash of the public key, as bytes: the DHT key */
  routingKey: Uint8Array
}

/** What a record says, in the form the API gives it */
export interface RecordInfo {
  name: string
  /** The path it points to: `/ipfs/<cid>[/path]` or `/ipns/<name>` */
  value: string
  sequence: number
  /** When it stops being valid (ms since the epoch) */
  validUntil: number
  /** How long a reader may cache it (ms) */
  ttlMs: number
}

/**
 * Parse a name: `k51...` (any CID of a public key), a peer id (`12D3KooW...`, `Qm...`), either
 * after `/ipns/`
 */
export function parseName (input: string): IpnsName {
  const s = input.startsWith('/ipns/') ? input.slice('/ipns/'.length) : input
  const fail = (): never => {
    throw new InvalidNameError(`invalid name "${input.slice(0, 100)}": expected an IPNS name such as k51qzi5uqu5... or /ipns/k51qzi5uqu5...`)
  }
  if (s === '' || s.length > 200 || s.includes('/')) fail()
  let peerId
  try {
    if (s.startsWith('1') || s.startsWith('Qm')) {
      peerId = peerIdFromString(s)
    } else {
      const cid = CID.parse(s, s.startsWith('k') ? base36 : undefined)
      if (cid.code !== LIBP2P_KEY) fail()
      peerId = peerIdFromCID(cid)
    }
  } catch (err) {
    if (err instanceof InvalidNameError) throw err
    return fail()
  }
  return { name: peerId.toCID().toString(base36), routingKey: multihashToIPNSRoutingKey(peerId.toMultihash()) }
}

/** The name of a key */
export function nameOfKey (key: PrivateKey): IpnsName {
  const cid = key.publicKey.toCID()
  return { name: cid.toString(base36), routingKey: multihashToIPNSRoutingKey(key.publicKey.toMultihash()) }
}

/** The value a record points to: a CID, `/ipfs/CID[/path]` or `/ipns/NAME[/path]` */
export function recordValue (input: string): string {
  const fail = (): never => {
    throw new InvalidRecordError('malformed', `invalid value "${input.slice(0, 100)}": expected a CID, /ipfs/CID[/path] or /ipns/NAME[/path]`)
  }
  const parts = input.split('/')
  if (!input.startsWith('/')) {
    try {
      return `/ipfs/${CID.parse(input).toV1().toString()}`
    } catch {
      return fail()
    }
  }
  if (parts.length < 3 || parts[2] === '' || input.length > 1024) fail()
  try {
    if (parts[1] === 'ipfs') CID.parse(parts[2])
    else if (parts[1] === 'ipns') parseName(parts[2])
    else fail()
  } catch {
    fail()
  }
  return input
}

export interface SignOptions {
  /** How long the record is valid */
  lifetimeMs: number
  /** How long a reader may cache it */
  ttlMs: number
}

/** A signed V2 record of `value` with sequence number `sequence`, marshalled */
export async function signRecord (key: PrivateKey, value: string, sequence: bigint, options: SignOptions): Promise<Uint8Array> {
  const record = await createIPNSRecord(key, recordValue(value), sequence, options.lifetimeMs, {
    v1Compatible: false,
    ttlNs: BigInt(options.ttlMs) * millisecond
  })
  return marshalIPNSRecord(record)
}

/**
 * Check a marshalled record for a name as every holder of it does: size first (nothing is
 * decoded past the limit), then that it decodes, is signed by the name's key and has not
 * expired; then, when a record is held already, that its sequence is not lower. Throws
 * InvalidRecordError with the reason; returns the decoded record.
 */
export async function checkRecord (name: IpnsName, bytes: Uint8Array, held?: IPNSRecord): Promise<IPNSRecord> {
  if (bytes.byteLength > MAX_RECORD_BYTES) {
    throw new InvalidRecordError('too-large', `the record is ${bytes.byteLength} bytes, more than the limit of ${MAX_RECORD_BYTES}`)
  }
  let record: IPNSRecord
  try {
    record = unmarshalIPNSRecord(bytes)
  } catch (err: any) {
    throw new InvalidRecordError(err.name === 'SignatureVerificationError' ? 'bad-signature' : 'malformed', `the record of ${name.name} does not decode: ${String(err.message).split('\n')[0]}`)
  }
  try {
    await ipnsValidator(name.routingKey, bytes)
  } catch (err: any) {
    switch (err.name) {
      case 'SignatureVerificationError':
        throw new InvalidRecordError('bad-signature', `the record's signature does not verify against the key of ${name.name}`)
      case 'InvalidEmbeddedPublicKeyError':
        throw new InvalidRecordError('wrong-key', `the record is signed by a key other than that of ${name.name}`)
      case 'RecordExpiredError':
        throw new InvalidRecordError('expired', `the record of ${name.name} expired at ${record.validity}`)
      default:
        throw new InvalidRecordError('malformed', `the record of ${name.name} is invalid: ${String(err.message).split('\n')[0]}`)
    }
  }
  if (held != null && record.sequence < held.sequence) {
    throw new InvalidRecordError('lower-sequence', `the record of ${name.name} has sequence ${record.sequence}, lower than the ${held.sequence} held`)
  }
  return record
}

/** Whether `record` should replace `held`: a higher sequence, or the same one valid for longer */
export function isNewer (record: IPNSRecord, held: IPNSRecord | undefined): boolean {
  if (held == null) return true
  if (record.sequence !== held.sequence) return record.sequence > held.sequence
  return validUntil(record) > validUntil(held)
}

export function validUntil (record: IPNSRecord): number {
  return new Date(record.validity).getTime()
}

export function infoOf (name: IpnsName, record: IPNSRecord): RecordInfo {
  return {
    name: name.name,
    value: record.value,
    sequence: Number(record.sequence),
    validUntil: validUntil(record),
    ttlMs: Number((record.ttl ?? 0n) / millisecond)
  }
}
