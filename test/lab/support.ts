/**
 * What the lab needs of the machine, and how it cleans up: whether namespaces, veth, bridges and
 * netem are there (`labSupport`, `requireLab`), loss from nftables where netem is missing, and
 * removing the namespaces (and their processes) of labs whose process is gone.
 */
import { execFile, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'

const exec = promisify(execFile)
/** Every namespace a lab makes is named `shoallab-<pid>-<id>-…` */
export const PREFIX = 'shoallab-'

export interface LabSupport {
  ok: boolean
  reason?: string
  /** `tc netem` exists: delay, jitter and loss in the kernel */
  netem: boolean
  /** nftables can drop packets at random (`numgen random`): loss without netem */
  nftLoss: boolean
}

let support: Promise<LabSupport> | undefined

/**
 * Whether this machine can run the lab (root, iproute2, namespaces, veth, bridges) and whether
 * its kernel has `netem` (delay, jitter, loss). Without netem, rates still apply (tbf) and the
 * lab says what it could not emulate.
 */
export async function labSupport (): Promise<LabSupport> {
  support ??= (async () => {
    if (process.platform !== 'linux') return { ok: false, reason: 'the lab needs Linux network namespaces', netem: false, nftLoss: false }
    if (process.getuid?.() !== 0) return { ok: false, reason: 'the lab needs root (network namespaces, veth, tc)', netem: false, nftLoss: false }
    const ns = `${PREFIX}${process.pid}-probe${randomBytes(2).toString('hex')}`
    try {
      await exec('ip', ['netns', 'add', ns])
    } catch (err: any) {
      return { ok: false, reason: `cannot create a network namespace: ${String(err.stderr ?? err.message).trim()}`, netem: false, nftLoss: false }
    }
    try {
      await exec('ip', ['-n', ns, 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'b0'])
      await exec('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge'])
      let netem = true
      try {
        await exec('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'a0', 'root', 'netem', 'delay', '1ms'])
      } catch {
        netem = false
      }
      await exec('tc', ['-n', ns, 'qdisc', 'replace', 'dev', 'b0', 'root', 'tbf', 'rate', '10mbit', 'burst', '64kb', 'latency', '400ms'])
      let nftLoss = true
      try {
        await applyNftLoss(ns, 'a0', 0.01)
      } catch {
        nftLoss = false
      }
      return { ok: true, netem, nftLoss }
    } catch (err: any) {
      return { ok: false, reason: `cannot build a link: ${String(err.stderr ?? err.message).trim()}`, netem: false, nftLoss: false }
    } finally {
      await exec('ip', ['netns', 'del', ns]).catch(() => {})
    }
  })()
  return support
}

/** nftables' table for a host's loss: one per namespace, replaced whole on every change */
const NFT_TABLE = 'shoallab'

/**
 * Drop packets at random, with probability `p`, in each direction of `dev` in `ns` (nftables'
 * `numgen random`), for kernels without netem. Traffic on the namespace's loopback (the delay
 * relay to its daemon) is left alone. `p` 0 removes the rules.
 */
export async function applyNftLoss (ns: string, dev: string, p: number): Promise<void> {
  await exec('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', NFT_TABLE]).catch(() => {})
  if (p <= 0) return
  const threshold = Math.round(p * 1_000_000)
  const rules = [
    `table inet ${NFT_TABLE} {`,
    '  chain in { type filter hook input priority 0; policy accept;',
    `    iifname "${dev}" numgen random mod 1000000 < ${threshold} counter drop`,
    '  }',
    '  chain out { type filter hook output priority 0; policy accept;',
    `    oifname "${dev}" numgen random mod 1000000 < ${threshold} counter drop`,
    '  }',
    '}'
  ].join('\n')
  await new Promise<void>((resolve, reject) => {
    const child = execFile('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], (err, _out, stderr) => {
      if (err != null) reject(new Error(`nft: ${String(stderr ?? err.message).trim()}`))
      else resolve()
    })
    child.stdin?.end(rules)
  })
}

/** Packets nftables dropped on host namespace `ns` for its loss profile (both directions) */
export async function nftDropped (ns: string): Promise<number> {
  const { stdout } = await exec('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', NFT_TABLE]).catch(() => ({ stdout: '' }))
  let packets = 0
  for (const m of stdout.matchAll(/counter packets (\d+)/g)) packets += Number(m[1])
  return packets
}

/** Remove namespaces (and the processes in them) left by labs whose process is gone */
export async function reapLeftovers (): Promise<string[]> {
  const { stdout } = await exec('ip', ['netns', 'list']).catch(() => ({ stdout: '' }))
  const reaped: string[] = []
  for (const line of stdout.split('\n')) {
    const name = line.split(' ')[0]
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name ?? '')
    if (m == null || name == null) continue
    const pid = Number(m[1])
    let alive = true
    try { process.kill(pid, 0) } catch (err: any) { alive = err.code !== 'ESRCH' }
    if (alive) continue
    removeNamespaceSync(name)
    reaped.push(name)
  }
  return reaped
}

export function removeNamespaceSync (ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(p => /^\d+$/.test(p))
    for (const pid of pids) { try { process.kill(Number(pid), 'SIGKILL') } catch {} }
  } catch {}
  try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }) } catch {}
}

/** Namespaces of this process's labs that still exist (a test asserts cleanup with it) */
export async function labNamespaces (): Promise<string[]> {
  const { stdout } = await exec('ip', ['netns', 'list']).catch(() => ({ stdout: '' }))
  return stdout.split('\n').map(l => l.split(' ')[0]).filter((n): n is string => n != null && n.startsWith(`${PREFIX}${process.pid}-`))
}

/**
 * In a mocha `before`: skip the suite where the lab cannot run, saying why; with
 * SHOAL_LAB_REQUIRED=1 (CI) fail instead, so a lab that silently stopped running is noticed
 */
export async function requireLab (ctx: Mocha.Context): Promise<LabSupport> {
  const s = await labSupport()
  if (s.ok) return s
  if (process.env.SHOAL_LAB_REQUIRED === '1') throw new Error(`the lab is required here (SHOAL_LAB_REQUIRED=1) but cannot run: ${s.reason ?? ''}`)
  process.stderr.write(`      lab skipped: ${s.reason ?? ''}\n`)
  ctx.skip()
  return s
}
