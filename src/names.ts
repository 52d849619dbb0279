/**
 * The names users give swarms and content tags. They end up in gossip topics
 * (`shoal/<swarm>/presence`), config file names (`configs/<swarm>.json`) and announcements, so
 * they are short and made of characters that mean nothing special in any of them.
 */

/** A swarm name or tag, whole */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/

/** What a name may be, for messages that reject one */
export const NAME_RULE = '1 to 64 characters of a-z, 0-9, \'.\', \'_\' or \'-\', starting with a letter or digit'

/** Whether `value` is a valid swarm name or tag */
export function isName (value: unknown): value is string {
  return typeof value === 'string' && NAME_PATTERN.test(value)
}
