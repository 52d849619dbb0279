/** Helpers the benchmarks share: option parsing, medians, output */

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
