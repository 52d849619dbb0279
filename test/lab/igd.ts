/**
 * UPnP IGD and NAT-PMP on a lab router: Debian's miniupnpd (nftables backend), asked by the hosts
 * behind the router to forward ports from the router's outside address.
 *
 * miniupnpd refuses to map ports when its outside address lies in a private range, as the lab's
 * internet does, unless a STUN server tells it that nothing filters that address (a full-cone
 * NAT 1:1, or no NAT at all): so the lab runs one (`stun-server.ts`) on two more addresses of its
 * internet, and each UPnP router asks it as it starts. The router's nftables get the chains
 * miniupnpd fills: a `forward` filter that jumps to `miniupnpd`, and nat chains that jump to
 * `prerouting_miniupnpd` / `postrouting_miniupnpd`.
 */
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { nft } from './router.js'
import type { ChildProcess } from 'node:child_process'

const STUN_SERVER = fileURLToPath(new URL('./stun-server.js', import.meta.url))
const MINIUPNPD = '/usr/sbin/miniupnpd'

/** Whether miniupnpd is installed (CI installs it; a developer's machine may not have it) */
export async function hasMiniupnpd (): Promise<boolean> {
  return fs.access(MINIUPNPD).then(() => true, () => false)
}

/** Spawn a lab process inside a namespace and wait until its output passes `ready` */
async function spawnIn (ns: string, cmd: string, args: string[], ready: (out: string) => boolean, what: string): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const onData = (d: Buffer): void => { out = (out + d.toString()).slice(-16384) }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${what} not ready within 20 s: ${out.slice(-2000)}`)) }, 20_000)
    const check = (): void => { if (ready(out)) { clearTimeout(timer); resolve() } }
    child.stdout?.on('data', check)
    child.stderr?.on('data', check)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited (${String(code)}): ${out.slice(-2000)}`)) })
  }).catch((err) => { child.kill('SIGKILL'); throw err })
  return child
}

/** The STUN server, in the switch namespace on two addresses of the internet bridge */
export async function startStun (switchNs: string, ips: [string, string], prefix: number, sh: (cmd: string, args: string[]) => Promise<string>): Promise<ChildProcess> {
  for (const ip of ips) await sh('ip', ['-n', switchNs, 'addr', 'add', `${ip}/${prefix}`, 'dev', 'br0'])
  return spawnIn(switchNs, process.execPath, [STUN_SERVER, ...ips], out => out.includes('"ready":true'), 'the lab STUN server')
}

export interface IgdInit {
  routerNs: string
  /** The router's device on the internet, and on the host's subnet */
  wanDev: string
  lanDev: string
  lanSubnet: string
  stunIp: string
  /** Offer NAT-PMP only, no UPnP IGD */
  natPmpOnly?: boolean
  /** Where its config and pid file go */
  dir: string
}

/** miniupnpd on a router, once it has said that port forwarding is on */
export async function startIgd (init: IgdInit): Promise<ChildProcess> {
  await nft(init.routerNs, [
    'table inet filter {',
    '  chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }',
    '  chain miniupnpd { }',
    '  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }',
    '  chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }',
    '  chain prerouting_miniupnpd { }',
    '  chain postrouting_miniupnpd { }',
    '}'
  ].join('\n'))
  await fs.mkdir(init.dir, { recursive: true })
  const conf = path.join(init.dir, `miniupnpd-${path.basename(init.routerNs)}.conf`)
  await fs.writeFile(conf, [
    `ext_ifname=${init.wanDev}`,
    `listening_ip=${init.lanDev}`,
    'port=5000',
    'enable_natpmp=yes',
    `enable_upnp=${init.natPmpOnly === true ? 'no' : 'yes'}`,
    'ext_perform_stun=yes',
    `ext_stun_host=${init.stunIp}`,
    'ext_stun_port=3478',
    'secure_mode=yes',
    'system_uptime=yes',
    `uuid=${crypto.randomUUID()}`,
    `allow 1024-65535 ${init.lanSubnet} 1024-65535`,
    'deny 0-65535 0.0.0.0/0 0-65535',
    ''
  ].join('\n'))
  const pid = path.join(init.dir, `miniupnpd-${path.basename(init.routerNs)}.pid`)
  // ready once its STUN check turned forwarding on and it listens for NAT-PMP (after UPnP's HTTP)
  return spawnIn(init.routerNs, MINIUPNPD, ['-f', conf, '-P', pid, '-d'],
    out => out.includes('Port forwarding is now enabled') && out.includes('Listening for NAT-PMP'), `miniupnpd in ${init.routerNs}`)
}
