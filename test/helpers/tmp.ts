import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

/** A fresh directory under the system temp dir; remove it with `cleanup()` */
export async function tmpDir (prefix = 'shoal-test-'): Promise<{ dir: string, cleanup(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix))
  return { dir, cleanup: async () => { await fs.rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }) } }
}
