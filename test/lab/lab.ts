/**
 * The swarm lab: N hosts on one machine, each a Linux network namespace with its own IP, joined by
 * veth pairs to a bridge in a dedicated "switch" namespace (the root namespace is never touched).
 * Each host's link has a profile (delay, jitter, loss, rate) applied with `tc` on both of its
 * ends, runs a real `shoal start` daemon with its own repo, and is driven through the CLI run
 * inside its namespace (the control API stays on the namespace's loopback).
 *
 * Every namespace and process a lab makes is named `shoallab-<pid>-<id>-…` and removed by
 * `destroy()`, by a process exit hook if the test process dies first, and by `reapLeftovers()`
 * (run when a lab is created) once the pid that made it is gone.
 */
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { spawnDaemon } from '../../src/api/spawn.js'
import { isGlobal } from '../../src/host/reachability.js'
import { initRepo } from '../../src/peer/index.js'
import { SHOAL_BIN } from '../helpers/cli.js'
import { testConfig } from '../helpers/swarm.js'
import { buildRouter } from './router.js'
import { applyNftLoss, labSupport, nftDropped, PREFIX, reapLeftovers, removeNamespaceSync } from './support.js'
import type { LabRouter, NatKind } from './router.js'
import type { SpawnedDaemon } from '../../src/api/spawn.js'
import type { RunResult } from '../helpers/cli.js'
import type { ChildProcess } from 'node:child_process'

const exec = promisify(execFile)
const DELAY_RELAY = fileURLToPath(new URL('./delay-relay.js', import.meta.url))
/** Where a daemon listens, on its namespace's loopback, when a delay relay fronts it */
const RELAYED_PORT = 4002
/**
 * Where the lab's internet is (`A.B.C.`, a /24), unless a lab asks for another: `SHOAL_LAB_SUBNET`
 * moves it (e.g. outside the ranges libp2p calls private)
 */
const SUBNET = process.env.SHOAL_LAB_SUBNET ?? '10.77.0.'
/**
 * A lab internet outside every range libp2p and shoal call private, for what only runs between
 * public addresses (AutoNAT v2's dial-backs, DCUtR's address exchange). It is AMPRNet space, never
 * routed out of the lab's namespaces: nothing in them has a route beyond the lab's bridge.
 */
export const ROUTABLE_SUBNET = '44.77.0.'
/** The port every daemon listens on, at its namespace's address */
export { labNamespaces, labSupport, nftDropped, reapLeftovers, requireLab } from './support.js'
export type { LabSupport } from './support.js'

export const LAB_PORT = 4001
/** The lab's "internet": the bridge every public host and every router's outside sits on */
export const LAB_INTERNET = `${SUBNET}0/24`
/** Hosts on the internet are .1-200 of it; routers' outside addresses .201-250; the STUN server .251-252 */
const MAX_HOSTS = 200
const MAX_ROUTERS = 50

/**
 * The changes NAT scenarios make to every host's config: the lab's internet counts as public,
 * no port mapping unless a scenario asks, the DHT a server only while reachable
 */
export function labNat (c: any, lab?: Lab): void {
  c.nat.publicRanges = [lab?.internet ?? LAB_INTERNET]
  c.nat.upnp = false
  c.dht.clientMode = 'auto'
}

/** What one host's link does to packets, in each direction */
export interface LinkProfile {
  /** one-way delay between two hosts, ms (half of it on each of the two links crossed) */
  delayMs?: number
  /** jitter on that delay, ms */
  jitterMs?: number
  /** loss between two hosts, 0 to 1 (split between the two links crossed) */
  loss?: number
  /** rate of this host's link, Mbit/s, each direction */
  rateMbit?: number
}

/**
 * The lab's wide-area link, used by the scenarios and benchmarks that speak of "40 ms RTT, 1%
 * loss": 20 ms one way between two hosts (40 ms round trip), 2 ms jitter, 1% loss
 */
export const WAN = { delayMs: 20, jitterMs: 2, loss: 0.01 } as const satisfies LinkProfile

export interface LabDaemon extends SpawnedDaemon {
  host: LabHost
  /** /ip4/<host ip>/tcp/4001/p2p/<id> */
  address: string
}

export interface LabHost {
  index: number
  ns: string
  ip: string
  /** this host's interface name in the switch namespace */
  port: string
  repo: string
  profile: LinkProfile
  daemon?: LabDaemon
  /** the user-space delay relay in front of the daemon, where netem is missing */
  relay?: ChildProcess
  /** the router this host sits behind, when it is behind a NAT */
  router?: LabRouter
}

export interface HostOptions {
  /** Put the host behind a router of this kind on a subnet of its own (see router.ts) */
  nat?: NatKind
  /** With `nat`: the router offers UPnP IGD and NAT-PMP (miniupnpd, see igd.ts), or NAT-PMP only */
  upnp?: boolean | 'nat-pmp'
}

export interface LabInit {
  /** Directory for the repos */
  dir: string
  hosts: number
  /** Every host's link profile, or one per host index */
  profile?: LinkProfile | ((index: number) => LinkProfile)
  /** The lab's internet, `A.B.C.` (a /24; default `SHOAL_LAB_SUBNET` or `10.77.0.`) */
  subnet?: string
}

export class Lab {
  readonly id: string
  readonly switchNs: string
  readonly hosts: LabHost[] = []
  readonly routers: LabRouter[] = []
  private readonly routerNs: string[] = []
  readonly dir: string
  /** The lab's internet, `A.B.C.` */
  readonly subnet: string
  netem = false
  /** Loss comes from nftables rules in each host's namespace (no netem here) */
  nftLoss = false
  /** What the lab could not emulate on this machine, for the test's output */
  readonly notes: string[] = []
  private readonly exitHook: () => void
  private readonly extra: ChildProcess[] = []
  /** The STUN server UPnP routers check their outside address with, once one is built */
  private stun?: Promise<string>
  private destroyed = false

  private constructor (dir: string, subnet: string) {
    this.subnet = subnet
    this.id = `${process.pid}-${randomBytes(2).toString('hex')}`
    this.switchNs = `${PREFIX}${this.id}-sw`
    this.dir = dir
    this.exitHook = () => { this.destroySync() }
  }

  static async create (init: LabInit): Promise<Lab> {
    const s = await labSupport()
    if (!s.ok) throw new Error(`the lab cannot run here: ${s.reason ?? ''}`)
    await reapLeftovers()
    const lab = new Lab(init.dir, init.subnet ?? SUBNET)
    lab.netem = s.netem
    lab.nftLoss = !s.netem && s.nftLoss
    if (!s.netem) {
      lab.notes.push(`tc netem is not in this kernel (CONFIG_NET_SCH_NETEM): delay and jitter come from a user-space relay in front of each daemon, rates from tbf, ${s.nftLoss ? 'loss from nftables (numgen random) on each host\'s interface' : 'loss is NOT emulated (no netem, no nft)'}`)
    }
    process.once('exit', lab.exitHook)
    try {
      await lab.sh('ip', ['netns', 'add', lab.switchNs])
      for (const br of ['br0', 'br1']) {
        await lab.sh('ip', ['-n', lab.switchNs, 'link', 'add', br, 'type', 'bridge'])
        await lab.sh('ip', ['-n', lab.switchNs, 'link', 'set', br, 'up'])
      }
      for (let i = 0; i < init.hosts; i++) {
        await lab.addHost(typeof init.profile === 'function' ? init.profile(i) : init.profile ?? {})
      }
    } catch (err) {
      await lab.destroy()
      throw err
    }
    return lab
  }

  /** The lab's internet, as a CIDR */
  get internet (): string {
    return `${this.subnet}0/24`
  }

  private async sh (cmd: string, args: string[]): Promise<string> {
    try {
      return (await exec(cmd, args)).stdout
    } catch (err: any) {
      throw new Error(`${cmd} ${args.join(' ')}: ${String(err.stderr ?? err.message).trim()}`)
    }
  }

  /**
   * A new host: namespace, link to the switch, address, loopback, link profile. With `nat`, the
   * host gets `10.78.<k>.2` behind router `k`, whose outside is on the switch instead (the link
   * profile then applies between the host and its router, and at the router's switch port).
   */
  async addHost (profile: LinkProfile = {}, options: HostOptions = {}): Promise<LabHost> {
    const index = this.hosts.length
    if (index >= MAX_HOSTS) throw new Error(`a lab holds at most ${MAX_HOSTS} hosts`)
    const k = this.routerNs.length
    if (options.nat != null && k >= MAX_ROUTERS) throw new Error(`a lab holds at most ${MAX_ROUTERS} routers`)
    const ip = options.nat != null ? `10.78.${k}.2` : `${this.subnet}${index + 1}`
    const host: LabHost = { index, ns: `${PREFIX}${this.id}-h${index}`, ip, port: options.nat != null ? `r${k}` : `p${index}`, repo: path.join(this.dir, `host-${index}`), profile }
    this.hosts.push(host)
    await this.sh('ip', ['netns', 'add', host.ns])
    if (options.nat != null) {
      const routerNs = `${PREFIX}${this.id}-r${k}`
      // known before it exists, so a half-built router is removed with the lab
      this.routerNs.push(routerNs)
      const router = await buildRouter({
        ns: routerNs,
        kind: options.nat,
        wanPort: host.port,
        wanIp: `${this.subnet}${MAX_HOSTS + 1 + k}`,
        wanPrefix: 24,
        lanIp: `10.78.${k}.1`,
        hostNs: host.ns,
        hostIp: ip,
        switchNs: this.switchNs,
        sh: async (cmd, args) => this.sh(cmd, args),
        ...(options.upnp != null && options.upnp !== false ? { upnp: { stunIp: await this.stunServer(), dir: this.dir, natPmpOnly: options.upnp === 'nat-pmp', track: (c: ChildProcess) => { this.extra.push(c) } } } : {})
      })
      this.routers.push(router)
      host.router = router
    } else {
      await this.sh('ip', ['link', 'add', 'eth0', 'netns', host.ns, 'type', 'veth', 'peer', 'name', host.port, 'netns', this.switchNs])
      await this.sh('ip', ['-n', this.switchNs, 'link', 'set', host.port, 'master', 'br0'])
      await this.sh('ip', ['-n', this.switchNs, 'link', 'set', host.port, 'up'])
      await this.sh('ip', ['-n', host.ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0'])
      await this.sh('ip', ['-n', host.ns, 'link', 'set', 'eth0', 'up'])
    }
    await this.sh('ip', ['-n', host.ns, 'link', 'set', 'lo', 'up'])
    await this.setProfile(index, profile)
    return host
  }

  /** The lab's STUN server (igd.ts), started on first use: its first address */
  private async stunServer (): Promise<string> {
    this.stun ??= (async () => {
      const { startStun } = await import('./igd.js')
      const ips: [string, string] = [`${this.subnet}${MAX_HOSTS + MAX_ROUTERS + 1}`, `${this.subnet}${MAX_HOSTS + MAX_ROUTERS + 2}`]
      this.extra.push(await startStun(this.switchNs, ips, 24, async (cmd, args) => this.sh(cmd, args)))
      return ips[0]
    })()
    return this.stun
  }

  /**
   * Apply a profile to host `i`'s link, on both ends (the host's egress and the switch port's),
   * so a packet between two hosts crosses two links: each end gets half the delay and loss
   */
  async setProfile (i: number, profile: LinkProfile): Promise<void> {
    const host = this.hosts[i]
    host.profile = profile
    const ends: Array<[string, string]> = [[host.ns, 'eth0'], [this.switchNs, host.port]]
    for (const [ns, dev] of ends) {
      await exec('tc', ['-n', ns, 'qdisc', 'del', 'dev', dev, 'root']).catch(() => {})
      const delay = (profile.delayMs ?? 0) / 2
      const jitter = (profile.jitterMs ?? 0) / 2
      const loss = 1 - Math.sqrt(1 - (profile.loss ?? 0))
      const wantsNetem = delay > 0 || jitter > 0 || loss > 0
      if (wantsNetem && this.netem) {
        const args = ['-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'netem', 'limit', '100000']
        if (delay > 0 || jitter > 0) args.push('delay', `${delay}ms`, ...(jitter > 0 ? [`${jitter}ms`, 'distribution', 'normal'] : []))
        if (loss > 0) args.push('loss', `${(loss * 100).toFixed(4)}%`)
        if (profile.rateMbit != null) args.push('rate', `${profile.rateMbit}mbit`)
        await this.sh('tc', args)
      } else if (profile.rateMbit != null) {
        await this.sh('tc', ['-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${profile.rateMbit}mbit`, 'burst', '64kb', 'latency', '400ms'])
      }
    }
    if (this.nftLoss) await applyNftLoss(host.ns, 'eth0', 1 - Math.sqrt(1 - (profile.loss ?? 0)))
  }

  /** Packets host `i`'s link dropped for its loss profile so far, both directions */
  async dropped (i: number): Promise<number> {
    const host = this.hosts[i]
    if (this.nftLoss) return nftDropped(host.ns)
    if (!this.netem) return 0
    let packets = 0
    for (const [ns, dev] of [[host.ns, 'eth0'], [this.switchNs, host.port]]) {
      const { stdout } = await exec('tc', ['-s', '-n', ns, 'qdisc', 'show', 'dev', dev]).catch(() => ({ stdout: '' }))
      for (const m of stdout.matchAll(/dropped (\d+)/g)) packets += Number(m[1])
    }
    return packets
  }

  /** Whether the loss a profile asks for is applied on this machine (netem or nftables) */
  get lossEmulated (): boolean {
    return this.netem || this.nftLoss
  }

  /** Put these hosts on a second bridge: they reach one another but no host on the first */
  async partition (hosts: number[]): Promise<void> {
    for (const i of hosts) await this.sh('ip', ['-n', this.switchNs, 'link', 'set', this.hosts[i].port, 'master', 'br1'])
  }

  /** Every host back on the first bridge */
  async heal (): Promise<void> {
    for (const h of this.hosts) await this.sh('ip', ['-n', this.switchNs, 'link', 'set', h.port, 'master', 'br0'])
  }

  /** Cut (or restore) a host's link at the switch: packets to and from it vanish */
  async setLink (i: number, up: boolean): Promise<void> {
    await this.sh('ip', ['-n', this.switchNs, 'link', 'set', this.hosts[i].port, up ? 'up' : 'down'])
  }

  /** The lab's config for host `i` (configs/local.json made deterministic), with changes */
  async config (i: number, change: (config: any) => void = () => {}): Promise<any> {
    return testConfig((c) => {
      c.swarm = 'lab'
      c.addresses.listen = [`/ip4/${this.hosts[i].ip}/tcp/${LAB_PORT}`]
      c.discovery.mdns = false
      // a lab internet outside the private ranges keeps its addresses in the DHT
      c.dht.peerAddresses = isGlobal(`${this.subnet}1`) ? 'all' : 'private'
      c.gossip.presenceIntervalMs = 1000
      c.gossip.colocationWhitelist = []
      c.store.fsync = false
      if (this.relayed(i)) {
        // the relay owns the namespace address; every inbound connection reaches the daemon from 127.0.0.1
        c.addresses.listen = [`/ip4/127.0.0.1/tcp/${RELAYED_PORT}`]
        c.addresses.announce = [`/ip4/${this.hosts[i].ip}/tcp/${LAB_PORT}`]
        c.gossip.colocationWhitelist = ['127.0.0.1']
      }
      change(c)
    })
  }

  /** Whether host `i`'s delay comes from a user-space relay (no netem here) */
  relayed (i: number): boolean {
    const p = this.hosts[i].profile
    return !this.netem && ((p.delayMs ?? 0) > 0 || (p.jitterMs ?? 0) > 0)
  }

  /**
   * Where a process on host `i` should listen so that others reach it at `<ip>:4001` with the
   * host's link delay: behind the delay relay (started here, once) where netem is missing,
   * else on the address itself
   */
  async front (i: number): Promise<string> {
    const host = this.hosts[i]
    if (!this.relayed(i)) return `/ip4/${host.ip}/tcp/${LAB_PORT}`
    if (host.relay == null) {
      host.relay = (await this.spawnNode(i, DELAY_RELAY, [host.ip, String(LAB_PORT), String(RELAYED_PORT), String(host.profile.delayMs ?? 0), String(host.profile.jitterMs ?? 0)])).child
    }
    return `/ip4/127.0.0.1/tcp/${RELAYED_PORT}`
  }

  /** Init host `i`'s repo (first time only) and start its daemon in its namespace */
  async start (i: number, change: (config: any) => void = () => {}): Promise<LabDaemon> {
    const host = this.hosts[i]
    if (host.daemon?.running() === true) throw new Error(`host ${i} already runs a daemon`)
    try {
      await fs.access(path.join(host.repo, 'config.json'))
    } catch {
      await initRepo(host.repo, { configText: JSON.stringify(await this.config(i, change), null, 2) })
    }
    await this.front(i)
    // SHOAL_LAB_LOGS=DIR keeps every daemon's whole stderr (with DEBUG=shoal:* for the details)
    const logDir = process.env.SHOAL_LAB_LOGS
    const log = logDir != null && logDir !== '' ? createWriteStream(path.join(logDir, `host-${i}.log`), { flags: 'a' }) : undefined
    log?.write(`--- ${new Date().toISOString()} start\n`)
    const spawned = await spawnDaemon({ repo: host.repo, prefix: ['ip', 'netns', 'exec', host.ns], stderrTail: 16 * 1024, onStderr: (d) => { log?.write(d) } })
      .catch((err) => { log?.end(); throw err })
    void spawned.exited.then((code) => { log?.end(`--- ${new Date().toISOString()} exit ${code}\n`) })
    const daemon: LabDaemon = {
      ...spawned,
      host,
      address: `/ip4/${host.ip}/tcp/${LAB_PORT}/p2p/${spawned.peerId}`
    }
    host.daemon = daemon
    return daemon
  }

  /**
   * Run `node SCRIPT ARGS` in host `i`'s namespace until it prints a JSON line; the process is
   * killed with the lab
   */
  async spawnNode (i: number, script: string, args: string[]): Promise<{ child: ChildProcess, ready: any, stdout(): string }> {
    const child = spawn('ip', ['netns', 'exec', this.hosts[i].ns, process.execPath, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.extra.push(child)
    let out = ''
    let err = ''
    child.stderr?.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-8192) })
    const ready = await new Promise<any>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`${script} not ready within 30 s: ${err}`)) }, 30_000)
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString()
        const line = out.split('\n').find(l => l.startsWith('{'))
        if (line != null) { clearTimeout(timer); resolve(JSON.parse(line)) }
      })
      child.once('exit', () => { clearTimeout(timer); reject(new Error(`${script} exited: ${err}`)) })
    }).catch((e) => { child.kill('SIGKILL'); throw e })
    return { child, ready, stdout: () => out }
  }

  /** `shoal ARGS` against host `i`'s repo, run inside its namespace */
  async cli (i: number, args: string[], options: { timeoutMs?: number } = {}): Promise<RunResult> {
    const host = this.hosts[i]
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', host.ns, process.execPath, SHOAL_BIN, '--repo', host.repo, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      const out: Buffer[] = []
      const err: Buffer[] = []
      child.stdout.on('data', (d: Buffer) => out.push(d))
      child.stderr.on('data', (d: Buffer) => err.push(d))
      const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeoutMs ?? 120_000)
      child.on('error', reject)
      child.on('close', (code) => {
        clearTimeout(timer)
        resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') })
      })
    })
  }

  /** Stop every daemon, remove every namespace and repo; safe to call twice */
  async destroy (): Promise<void> {
    if (this.destroyed) return
    await Promise.all(this.hosts.map(async h => h.daemon?.stop().catch(() => {})))
    this.destroySync()
    await fs.rm(this.dir, { recursive: true, force: true }).catch(() => {})
  }

  private destroySync (): void {
    if (this.destroyed) return
    this.destroyed = true
    process.off('exit', this.exitHook)
    for (const c of this.extra) { try { c.kill('SIGKILL') } catch {} }
    for (const h of this.hosts) {
      if (h.daemon?.running() === true) { try { h.daemon.child.kill('SIGKILL') } catch {} }
      removeNamespaceSync(h.ns)
    }
    for (const ns of this.routerNs) removeNamespaceSync(ns)
    removeNamespaceSync(this.switchNs)
  }
}
