import { createStore } from '../../src/store/index.js'
import { tmpDir } from './tmp.js'
import type { Store } from '../../src/store/index.js'

/**
 * In a mocha `describe`: each test gets a fresh, opened store (no fsync) in a directory of its
 * own, handed to `set` before it runs; the directory is removed after it
 */
export function storePerTest (set: (store: Store, dir: string) => void): void {
  let tmp: { dir: string, cleanup(): Promise<void> } | undefined
  beforeEach(async () => {
    tmp = await tmpDir()
    const store = createStore(tmp.dir, { fsync: false })
    await store.open()
    set(store, tmp.dir)
  })
  afterEach(async () => {
    await tmp?.cleanup()
  })
}
