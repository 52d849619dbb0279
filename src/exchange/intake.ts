/**
 * A block that arrived in a session, checked against its CID and stored as one job for the store
 * (FsBlocks.putVerified), or only checked when another copy of it is stored already or being
 * stored. A block its channel hashed already (bitswap) is stored without hashing it again.
 */
import { verifies } from '../store/index.js'
import type { ExchangeBlocks } from './index.js'
import type { BlockBytes } from './response-reader.js'
import type { Logger } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/** What became of a block: it did not match its CID, it was stored, or it matched and another copy counts */
export type Intake = 'bad' | 'stored' | 'copy'

export interface IntakeInit {
  blocks: Pick<ExchangeBlocks, 'put' | 'putVerified'>
  log: Logger
  /** Peers that sent a bad block are reported here, to keep them out for a while */
  ban(peerId: string): void
}

export class BlockIntake {
  private readonly init: IntakeInit
  private readonly blocks: Pick<ExchangeBlocks, 'put' | 'putVerified'>
  /** Keys of blocks being stored now */
  private readonly storing = new Set<string>()
  /** Peers dropped for a bad block */
  private readonly liars = new Set<string>()

  constructor (init: IntakeInit) {
    this.init = init
    this.blocks = init.blocks
  }

  /**
   * A peer sent a block that does not match `cid`: logged and banned the first time; false when
   * it was dropped for an earlier one already
   */
  dropLiar (peerId: string, cid: CID): boolean {
    if (this.liars.has(peerId)) return false
    this.liars.add(peerId)
    this.init.log('peer %s sent a block that does not match %s: dropping it', peerId, cid)
    this.init.ban(peerId)
    return true
  }

  /** Whether a copy of the block is being stored now */
  storingNow (key: string): boolean {
    return this.storing.has(key)
  }

  /**
   * Check `block` and store it, unless `isCopy()` says it is stored already or being stored (or
   * no longer wanted): then it is only checked
   */
  async take (cid: CID, key: string, block: BlockBytes, isCopy: () => boolean): Promise<Intake> {
    if (isCopy()) return block.verified === true || await verifies(cid, block.chunks) ? 'copy' : 'bad'
    const stored = await this.storeAs(key, async () => {
      if (block.verified !== true) return this.blocks.putVerified(cid, block.chunks)
      await this.blocks.put(cid, block.chunks)
      return true
    })
    return stored ? 'stored' : 'bad'
  }

  /** Store a block known good (the copy that was being stored turned out bad) */
  async store (cid: CID, key: string, block: BlockBytes): Promise<void> {
    await this.storeAs(key, async () => { await this.blocks.put(cid, block.chunks); return true })
  }

  private async storeAs (key: string, fn: () => Promise<boolean>): Promise<boolean> {
    this.storing.add(key)
    try {
      return await fn()
    } finally {
      this.storing.delete(key)
    }
  }
}
