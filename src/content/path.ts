import { CID } from 'multiformats/cid'
import { InvalidCIDError, InvalidPathError } from '../errors.js'

/** A CID and a path of names inside its DAG */
export interface ContentPath {
  cid: CID
  segments: string[]
}

/**
 * Parse `CID`, `CID/a/b` or `/ipfs/CID/a/b`. Segments that could climb out of the DAG (`.`,
 * `..`) or are empty are refused, so no path names anything but a link in the DAG.
 */
export function parseContentPath (input: string): ContentPath {
  let s = input.trim()
  if (s.startsWith('/ipfs/')) s = s.slice('/ipfs/'.length)
  const [first, ...rest] = s.split('/')
  let cid: CID
  try {
    cid = CID.parse(first ?? '')
  } catch {
    throw new InvalidCIDError(first ?? input)
  }
  const segments = rest.filter((seg, i) => !(seg === '' && i === rest.length - 1))
  for (const seg of segments) {
    if (seg === '' || seg === '.' || seg === '..') {
      throw new InvalidPathError(`invalid path "${input}": empty, "." and ".." segments are not allowed`)
    }
  }
  return { cid, segments }
}
