/**
 * The lab's home routers: a host behind NAT sits on a subnet of its own (`10.78.<k>.0/24`) whose
 * only way out is a router namespace between that subnet and the lab's "internet" bridge. The
 * router forwards and rewrites source addresses with nftables, of one of two kinds:
 *
 * - `port-preserving`: `snat to <wan ip>` keeps the host's source port where it is free, and one
 *   inside address:port maps to the same outside address:port whatever the destination
 *   (endpoint-independent mapping, the kind hole punching can get through);
 * - `symmetric`: `snat to <wan ip>:20000-60000 random` gives every new connection a random
 *   outside port, so what one peer observes says nothing of the port the next one will see.
 *
 * Inbound, both behave as home routers do: only replies to connections opened from inside get
 * through (the internet has no route to the inside subnet, and the router's own address answers
 * a new connection with a reset).
 *
 * A router built with `upnp` also runs miniupnpd (igd.ts): a host behind it may ask for its port
 * to be forwarded from the router's outside address, with UPnP IGD or NAT-PMP.
 */
import { execFile } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'

export type NatKind = 'port-preserving' | 'symmetric'

export interface LabRouter {
  ns: string
  kind: NatKind
  /** The router's address on the internet bridge: what peers outside observe for the host */
  wanIp: string
  /** The router's address on the host's subnet (the host's default gateway) */
  lanIp: string
  /** It runs UPnP IGD / NAT-PMP */
  upnp: boolean
}

export async function nft (ns: string, rules: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], (err, _out, stderr) => {
      if (err != null) reject(new Error(`nft in ${ns}: ${String(stderr ?? err.message).trim()}`))
      else resolve()
    })
    child.stdin?.end(rules)
  })
}

export interface RouterInit {
  ns: string
  kind: NatKind
  /** Its veth on the switch, in the switch namespace */
  wanPort: string
  wanIp: string
  /** Prefix length of the internet bridge's subnet */
  wanPrefix: number
  lanIp: string
  hostNs: string
  hostIp: string
  switchNs: string
  /** Run UPnP IGD / NAT-PMP (miniupnpd) on it, checking its outside address with this STUN server */
  upnp?: { stunIp: string, dir: string, natPmpOnly: boolean, track(child: ChildProcess): void }
  sh(cmd: string, args: string[]): Promise<string>
}

/**
 * Make the router namespace, wire the host's namespace behind it (the host's `eth0` gets
 * `hostIp/24` and a default route through the router) and install the NAT rules
 */
export async function buildRouter (init: RouterInit): Promise<LabRouter> {
  const { sh, ns } = init
  await sh('ip', ['netns', 'add', ns])
  await sh('ip', ['link', 'add', 'wan0', 'netns', ns, 'type', 'veth', 'peer', 'name', init.wanPort, 'netns', init.switchNs])
  await sh('ip', ['-n', init.switchNs, 'link', 'set', init.wanPort, 'master', 'br0'])
  await sh('ip', ['-n', init.switchNs, 'link', 'set', init.wanPort, 'up'])
  await sh('ip', ['link', 'add', 'eth0', 'netns', init.hostNs, 'type', 'veth', 'peer', 'name', 'lan0', 'netns', ns])
  await sh('ip', ['-n', ns, 'addr', 'add', `${init.wanIp}/${init.wanPrefix}`, 'dev', 'wan0'])
  await sh('ip', ['-n', ns, 'addr', 'add', `${init.lanIp}/24`, 'dev', 'lan0'])
  for (const dev of ['wan0', 'lan0', 'lo']) await sh('ip', ['-n', ns, 'link', 'set', dev, 'up'])
  await sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'])
  await sh('ip', ['-n', init.hostNs, 'addr', 'add', `${init.hostIp}/24`, 'dev', 'eth0'])
  await sh('ip', ['-n', init.hostNs, 'link', 'set', 'eth0', 'up'])
  await sh('ip', ['-n', init.hostNs, 'route', 'add', 'default', 'via', init.lanIp])
  const match = `oifname "wan0" ip saddr ${init.hostIp}`
  const snat = init.kind === 'symmetric'
    ? [`${match} meta l4proto { tcp, udp } snat to ${init.wanIp}:20000-60000 random`, `${match} snat to ${init.wanIp}`]
    : [`${match} snat to ${init.wanIp}`]
  await nft(ns, [
    'table ip shoallabnat {',
    '  chain postrouting { type nat hook postrouting priority 100; policy accept;',
    ...snat.map(rule => `    ${rule}`),
    '  }',
    '}'
  ].join('\n'))
  if (init.upnp != null) {
    const { startIgd } = await import('./igd.js')
    init.upnp.track(await startIgd({ routerNs: ns, wanDev: 'wan0', lanDev: 'lan0', lanSubnet: `${init.lanIp.replace(/\.\d+$/, '.0')}/24`, stunIp: init.upnp.stunIp, natPmpOnly: init.upnp.natPmpOnly, dir: init.upnp.dir }))
  }
  return { ns, kind: init.kind, wanIp: init.wanIp, lanIp: init.lanIp, upnp: init.upnp != null }
}
