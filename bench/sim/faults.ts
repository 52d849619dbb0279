/** The faults a run scripts: crashes, churn (leaves and joins), a partition and its heal */
import { sample } from './gossipsub.js'
import type { Swarm } from './swarm.js'

/** Schedule the faults `s`'s settings ask for; publishers are spared, so their replications can finish */
export function scriptFaults (s: Swarm): void {
  if (s.init.crash != null) {
    const crash = s.init.crash
    s.script(crash.atMs, () => {
      const victims = sample(s.live().filter(p => !s.publishers.has(p.i)), crash.count, s.random)
      for (const v of victims) s.crashedAt.set(v.i, s.now())
      for (const v of victims) s.down(v, false)
      for (const o of s.live()) {
        for (const v of victims) {
          // v2 answers for the crashed peer's neighbours (directly connected); the first design for every peer
          if (s.v2 && !o.router.conns.has(v.i)) continue
          const state = o.core?.member(v.id)?.state
          if (state != null && state !== 'gone') s.crashPairs.add(`${o.i}:${v.i}`)
        }
      }
    })
  }
  if (s.init.churn != null) {
    const { fromMs, toMs, leaves, joins } = s.init.churn
    for (let k = 0; k < leaves; k++) {
      s.script(fromMs + (toMs - fromMs) * k / leaves, () => {
        const live = s.live().filter(p => !s.crashedAt.has(p.i) && !s.publishers.has(p.i))
        s.down(live[Math.floor(s.random() * live.length)], true)
      })
    }
    for (let k = 0; k < joins; k++) s.script(fromMs + (toMs - fromMs) * (k + 0.5) / joins, () => { s.join() })
  }
  if (s.init.partition != null) {
    const { atMs, healAtMs, fraction } = s.init.partition
    s.script(atMs, () => { for (const p of sample(s.live(), Math.round(fraction * s.live().length), s.random)) p.group = 1 })
    s.script(healAtMs, () => {
      for (const p of s.peers) p.group = 0
      const observers = sample(s.live(), 50, s.random)
      const check = (): void => {
        const live = s.live()
        // the first design lists every live peer; v2 lists those it has heard of, and must call each of them alive
        const whole = observers.every(o => !o.up || live.every(q => {
          const state = o.core?.member(q.id)?.state
          return state === 'alive' || (s.v2 && state == null)
        }))
        if (whole) s.healMs = s.now() - healAtMs
        else if (s.now() + 500 < s.init.durationMs) s.script(s.now() + 500, check)
      }
      check()
    })
  }
}
