/** What a fetch session knows of a peer when it hands out work */
export interface Rankable {
  /** Peers it was uploading to when it answered `have`; undefined when it was not asked or did not say */
  load?: number
  /** Requests it may have in flight */
  window: number
}

/**
 * Loads are compared in steps of this many peers served (half the default upload slots). A load
 * is a snapshot a round trip old, and the fetchers that probe within one round trip all see the
 * same one: ranked by the exact figure they all went to the same idle holder (in the simulator the
 * slowest fetch took 3x as long); within a step the peer that answered first, the nearer, goes first.
 */
export const LOAD_STEP = 8

/**
 * The order in which a fetch session gives work to its peers: the least loaded first (the load a
 * peer reported in its `have` answer, in steps of `LOAD_STEP`), then the widest window, then the
 * order they joined in. A peer whose load is unknown (named to the fetch, so not probed, or an
 * older peer that does not report it) ranks as unloaded, as every peer did before loads were
 * reported. Work is scarce only at a small file or a DAG's tail, so it is there that this choice
 * spreads the fetches of a popular root over its holders (docs/exchange.md). Pure: the simulator
 * ranks with it too.
 */
export function rankPeers<T extends Rankable> (peers: Iterable<T>): T[] {
  const step = (p: Rankable): number => Math.floor((p.load ?? 0) / LOAD_STEP)
  return [...peers].sort((a, b) => step(a) - step(b) || b.window - a.window)
}
