/** Helpers the benchmarks share: option parsing, medians, output, input files */
import { createHash, randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'

const MiB = 1024 * 1024

export function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

export function intOption (args: string[], name: string, dflt: number, max: number, min = 1): number {
  const i = args.indexOf(name)
  if (i === -1) return dflt
  const v = args[i + 1] ?? ''
  const n = Number(v)
  if (!/^\d+$/.test(v) || n < min || n > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${v}"`)
  return n
}

export function stringOption (args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  return i === -1 ? undefined : args[i + 1]
}

export const out = (line = ''): void => { process.stdout.write(line + '\n') }
export const fmt = (n: number | undefined, digits = 1): string => n == null ? 'n/a' : n.toFixed(digits)

/** Write `bytes` random bytes to a new `file`, a MiB at a time; returns their SHA-256 (hex) */
export async function writeInput (file: string, bytes: number): Promise<string> {
  const hash = createHash('sha256')
  const handle = await fs.open(file, 'wx')
  try {
    for (let left = bytes; left > 0; left -= MiB) {
      const chunk = randomBytes(Math.min(MiB, left))
      hash.update(chunk)
      await handle.write(chunk)
    }
  } finally {
    await handle.close()
  }
  return hash.digest('hex')
}
