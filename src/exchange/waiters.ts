/** Callers waiting for blocks of a fetch session (by key): `cat` streaming behind the fetch */
export class BlockWaiters {
  private readonly byKey = new Map<string, Array<{ resolve(): void, reject(err: Error): void }>>()

  /** Resolves when `ready(key)` is called; rejects on `failAll` */
  async wait (key: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const list = this.byKey.get(key) ?? []
      list.push({ resolve, reject })
      this.byKey.set(key, list)
    })
  }

  ready (key: string): void {
    const waiting = this.byKey.get(key)
    if (waiting == null) return
    this.byKey.delete(key)
    for (const w of waiting) w.resolve()
  }

  failAll (err: Error): void {
    for (const list of this.byKey.values()) for (const w of list) w.reject(err)
    this.byKey.clear()
  }
}
