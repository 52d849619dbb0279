/**
 * The lab's STUN server (RFC 5389 binding, RFC 5780 CHANGE-REQUEST and OTHER-ADDRESS), on two
 * addresses and two ports of the lab's internet: what a public STUN server is to a home router.
 * A router's miniupnpd asks it, from four ports, whether its outside address is reachable
 * without filtering before it agrees to map ports (it refuses an outside address in a private
 * range otherwise, and the lab's internet is one).
 *
 *     node stun-server.js IP_A IP_B     prints {"ready":true} once it listens
 *
 * It answers binding requests only, each with its sender's address, from the address and port
 * the request's CHANGE-REQUEST asks for; anything else is dropped.
 */
import dgram from 'node:dgram'

const PORTS = [3478, 3479]
const BINDING_REQUEST = 0x0001
const BINDING_RESPONSE = 0x0101
const MAGIC_COOKIE = 0x2112A442
const CHANGE_REQUEST = 0x0003
const MAPPED_ADDRESS = 0x0001
const XOR_MAPPED_ADDRESS = 0x0020
const OTHER_ADDRESS = 0x802c
const CHANGE_IP = 4
const CHANGE_PORT = 2

function ipv4 (ip: string): number {
  return ip.split('.').reduce((n, part) => (n * 256) + Number(part), 0)
}

/** An address attribute (IPv4), XORed with the cookie where the type asks for it */
function addressAttribute (type: number, ip: string, port: number): Buffer {
  const b = Buffer.alloc(12)
  const xor = type === XOR_MAPPED_ADDRESS
  b.writeUInt16BE(type, 0)
  b.writeUInt16BE(8, 2)
  b[5] = 1
  b.writeUInt16BE(xor ? port ^ (MAGIC_COOKIE >>> 16) : port, 6)
  b.writeUInt32BE(xor ? (ipv4(ip) ^ MAGIC_COOKIE) >>> 0 : ipv4(ip), 8)
  return b
}

/** The CHANGE-REQUEST flags of a binding request (0 when it has none) */
function changeFlags (msg: Buffer): number {
  for (let at = 20; at + 4 <= msg.length;) {
    const type = msg.readUInt16BE(at)
    const length = msg.readUInt16BE(at + 2)
    if (type === CHANGE_REQUEST && length >= 4 && at + 8 <= msg.length) return msg.readUInt32BE(at + 4)
    at += 4 + ((length + 3) & ~3)
  }
  return 0
}

const [ipA, ipB] = process.argv.slice(2)
if (ipA == null || ipB == null) {
  process.stderr.write('usage: stun-server IP_A IP_B\n')
  process.exit(2)
}
const other = (ip: string): string => ip === ipA ? ipB : ipA
const otherPort = (port: number): number => port === PORTS[0] ? PORTS[1] : PORTS[0]
const sockets = new Map<string, dgram.Socket>()
let listening = 0

for (const ip of [ipA, ipB]) {
  for (const port of PORTS) {
    const socket = dgram.createSocket('udp4')
    sockets.set(`${ip}:${port}`, socket)
    socket.on('message', (msg, from) => {
      if (msg.length < 20 || msg.length > 1024 || msg.readUInt16BE(0) !== BINDING_REQUEST || msg.readUInt32BE(4) !== MAGIC_COOKIE) return
      const change = changeFlags(msg)
      const replyIp = (change & CHANGE_IP) !== 0 ? other(ip) : ip
      const replyPort = (change & CHANGE_PORT) !== 0 ? otherPort(port) : port
      const attributes = Buffer.concat([
        addressAttribute(MAPPED_ADDRESS, from.address, from.port),
        addressAttribute(XOR_MAPPED_ADDRESS, from.address, from.port),
        addressAttribute(OTHER_ADDRESS, other(ip), otherPort(port))
      ])
      const head = Buffer.alloc(20)
      head.writeUInt16BE(BINDING_RESPONSE, 0)
      head.writeUInt16BE(attributes.length, 2)
      msg.copy(head, 4, 4, 20)
      sockets.get(`${replyIp}:${replyPort}`)?.send(Buffer.concat([head, attributes]), from.port, from.address)
    })
    socket.bind(port, ip, () => {
      if (++listening === sockets.size) process.stdout.write(JSON.stringify({ ready: true }) + '\n')
    })
  }
}
