/**
 * CIDR ranges (`10.77.0.0/24`, `fd00::/8`) and whether an IP lies in one, on Node's `BlockList`.
 * No libp2p here: the config parser reads it offline.
 */
import { BlockList, isIP } from 'node:net'

export interface Cidr {
  address: string
  prefix: number
  family: 'ipv4' | 'ipv6'
}

/** Parse `ADDRESS/PREFIX`; undefined when it is not one */
export function parseCidr (text: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text)
  if (m == null) return undefined
  const version = isIP(m[1])
  const prefix = Number(m[2])
  if (version === 0 || prefix > (version === 4 ? 32 : 128)) return undefined
  return { address: m[1], prefix, family: version === 4 ? 'ipv4' : 'ipv6' }
}

/** A set of ranges; `has(ip)` is false for anything that is not an IP */
export interface Ranges {
  has(ip: string): boolean
  readonly size: number
}

export function ranges (cidrs: readonly string[]): Ranges {
  const list = new BlockList()
  for (const text of cidrs) {
    const c = parseCidr(text)
    if (c == null) throw new Error(`invalid CIDR "${text}"`)
    list.addSubnet(c.address, c.prefix, c.family)
  }
  return {
    size: cidrs.length,
    has (ip: string): boolean {
      const version = isIP(ip)
      return version !== 0 && list.check(ip, version === 4 ? 'ipv4' : 'ipv6')
    }
  }
}
