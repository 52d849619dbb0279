import fs from 'node:fs/promises'
import { InvalidConfigError } from '../errors.js'

/** The libp2p private-network key file format: a header, the encoding, then 32 bytes as hex */
const SWARM_KEY = /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n?$/

/** Read and check a private swarm's pre-shared key file */
export async function readSwarmKey (file: string): Promise<Uint8Array> {
  let bytes: Buffer
  try {
    bytes = await fs.readFile(file)
  } catch (err: any) {
    throw new InvalidConfigError(`cannot read the swarm key ${file} (config swarmKey): ${err.code === 'ENOENT' ? 'no such file; create one with "shoal swarm keygen"' : err.message}`)
  }
  if (bytes.byteLength > 256 || !SWARM_KEY.test(bytes.toString('latin1'))) {
    throw new InvalidConfigError(`${file} is not a swarm key: expected the format "shoal swarm keygen" writes`)
  }
  return bytes
}
