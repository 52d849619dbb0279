/**
 * Peers reachable only through a limited relay: the reason names the peer, the relay and the
 * byte budget the circuit opened with, and is given only when no direct connection exists.
 */
import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { CIRCUIT_RESERVE, CircuitBudgets, directConnection, fits, limitedReason, waitForDirect } from '../../src/exchange/limited.js'

const RELAY = '12D3KooWLYKoVogFCpMkmUG5Twzeb8UM87snSkdxCfFGdNBUpHHd'
const PEER = peerIdFromString('12D3KooWJbcW4tuaMfzYnbBtTWxE5XD7U6tffZq3v1AxEPv9toTX')

function conn (limits?: { bytes?: bigint, seconds?: number }): any {
  const remoteAddr = limits != null
    ? multiaddr(`/ip4/10.77.0.1/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER.toString()}`)
    : multiaddr(`/ip4/10.77.0.201/tcp/40000/p2p/${PEER.toString()}`)
  return { status: 'open', remoteAddr, ...(limits != null ? { limits } : {}) }
}

function events (): any {
  const listeners = new Map<string, (evt: any) => void>()
  return {
    addEventListener: (name: string, fn: (evt: any) => void) => { listeners.set(name, fn) },
    removeEventListener: (name: string) => { listeners.delete(name) },
    emit: (name: string, detail: unknown) => { listeners.get(name)?.({ detail }) }
  }
}

describe('exchange: limited connections', () => {
  it('names the peer, the relay and the budget the circuit opened with, rounded up', () => {
    const host = events()
    const budgets = new CircuitBudgets(host)
    budgets.start()
    const limited = conn({ bytes: 130_560n, seconds: 119_986 })
    host.emit('connection:open', limited)
    // bytes cross the circuit: what is left shrinks, the budget named stays
    limited.limits.bytes = 1000n
    const reason = limitedReason({ getConnections: () => [limited] }, budgets, PEER)
    assert.match(reason ?? '', new RegExp(`^${PEER.toString()} is behind a NAT and reachable only through relay ${RELAY}, which allows 128 KiB per circuit: `))
    budgets.stop()
  })

  it('gives no reason while a direct connection exists, and says so when there is one', async () => {
    const budgets = new CircuitBudgets(events())
    const direct = conn()
    const limited = conn({ bytes: 131_072n })
    assert.equal(limitedReason({ getConnections: () => [limited, direct] }, budgets, PEER), undefined)
    assert.equal(limitedReason({ getConnections: () => [] }, budgets, PEER), undefined)
    assert.equal(directConnection({ getConnections: () => [limited, direct] } as any, PEER), direct)
    assert.match(limitedReason({ getConnections: () => [conn({ seconds: 120 })] }, budgets, PEER) ?? '', /which allows circuits of limited duration/)
  })

  it('sends a block over a limited connection only while what is left of its budget covers it, its framing and the reserve', () => {
    assert.equal(fits({}, 1024 * 1024), true, 'a direct connection carries anything')
    assert.equal(fits({ limits: { bytes: 131_072n } }, 40 * 1024), true)
    assert.equal(fits({ limits: { bytes: 131_072n } }, 1024 * 1024), false, 'a 1 MiB block does not fit 128 KiB')
    // the budget counts down as bytes cross: what fit at first no longer does
    assert.equal(fits({ limits: { bytes: BigInt(40 * 1024 + CIRCUIT_RESERVE) } }, 40 * 1024), false, 'framing needs room too')
    assert.equal(fits({ limits: { bytes: BigInt(41 * 1024 + CIRCUIT_RESERVE) } }, 40 * 1024), true)
    assert.equal(fits({ limits: { seconds: 120 } }, 1024 * 1024), true, 'a time limit alone does not cap the bytes')
    assert.equal(fits({ limits: { bytes: 131_072n, seconds: 2 } }, 1024), false, 'a circuit about to expire carries nothing more')
  })

  it('waits for a direct connection, up to its limit', async () => {
    const conns: any[] = [conn({ bytes: 131_072n })]
    const host = { getConnections: () => conns }
    setTimeout(() => conns.push(conn()), 300)
    assert.equal(await waitForDirect(host as any, PEER, 2000), true)
    assert.equal(await waitForDirect({ getConnections: () => [conn({ bytes: 1n })] } as any, PEER, 300), false)
    const started = Date.now()
    assert.equal(await waitForDirect({ getConnections: () => [conn({ bytes: 1n })] } as any, PEER, 5000, undefined, () => true), false)
    assert.ok(Date.now() - started < 1000, 'no longer needed: it stops waiting')
  })
})
