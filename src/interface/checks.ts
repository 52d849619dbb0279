/**
 * Checks of the arguments of API calls: each takes what arrived (JSON, a query string, or a value
 * from a caller in process) and returns it typed, or throws InvalidArgumentError naming the
 * argument. `null` and absent are the same to `optional`, as JSON writers differ on which they send.
 */
import { InvalidArgumentError } from '../errors.js'

export interface Check<T> {
  (value: unknown, name: string): T
  /** How a query string carries the value: as text to parse, or one parameter per item of a list */
  readonly query: 'string' | 'number' | 'boolean' | 'list'
  /** The key it travels under, when not the option's own name (a list's items are named singly) */
  readonly key?: string
}

function check<T> (query: Check<T>['query'], fn: (value: unknown, name: string) => T, key?: string): Check<T> {
  return Object.assign(fn, { query, key })
}

/** A non-empty string */
export const text = check('string', (v, name): string => {
  if (typeof v !== 'string' || v === '') throw new InvalidArgumentError(`"${name}" must be a non-empty string`)
  return v
})

/** Any string, the empty one included */
export const string = check('string', (v, name): string => {
  if (typeof v !== 'string') throw new InvalidArgumentError(`"${name}" must be a string`)
  return v
})

/** A whole number from 0 to `max` */
export function count (max = Number.MAX_SAFE_INTEGER): Check<number> {
  return check('number', (v, name): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `"${name}" must be a whole number of 0 or more` : `"${name}" must be a whole number from 0 to ${max}`)
    }
    return v
  })
}

export const flag = check('boolean', (v, name): boolean => {
  if (typeof v !== 'boolean') throw new InvalidArgumentError(`"${name}" must be true or false`)
  return v
})

/** One of a few strings */
export function oneOf<T extends string> (...values: T[]): Check<T> {
  return check('string', (v, name): T => {
    if (typeof v !== 'string' || !(values as string[]).includes(v)) throw new InvalidArgumentError(`"${name}" must be ${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`)
    return v as T
  })
}

/** A string matching `pattern`; `rule` says what it must be ("be 1 to 64 letters") */
export function matching (pattern: RegExp, rule: string): Check<string> {
  return check('string', (v, name): string => {
    if (typeof v !== 'string' || !pattern.test(v)) throw new InvalidArgumentError(`"${name}" must ${rule}, not ${JSON.stringify(v)?.slice(0, 100)}`)
    return v
  })
}

/** A list of at most `max` items, each checked; `key` names one item on the wire */
export function list<T> (item: Check<T>, options: { max?: number, key?: string } = {}): Check<T[]> {
  const max = options.max ?? Infinity
  return check('list', (v, name): T[] => {
    if (!Array.isArray(v)) throw new InvalidArgumentError(`"${name}" must be a list`)
    if (v.length > max) throw new InvalidArgumentError(`"${name}" may hold at most ${max} items`)
    return v.map(x => item(x, name))
  }, options.key)
}

export function optional<T> (inner: Check<T>): Check<T | undefined> {
  return check(inner.query, (v, name): T | undefined => v == null ? undefined : inner(v, name), inner.key)
}

/** A value from a query string, in the form its check takes: a list, a number, a boolean or text */
export function fromQuery (params: URLSearchParams, key: string, c: Check<unknown>): unknown {
  if (c.query === 'list') return params.has(key) ? params.getAll(key) : undefined
  const v = params.get(key)
  if (v == null) return undefined
  if (c.query === 'number') return v.trim() === '' ? NaN : Number(v)
  if (c.query === 'boolean') return v === 'true' ? true : v === 'false' ? false : v
  return v
}
