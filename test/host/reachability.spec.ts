/**
 * The reachability verdict: witnesses in public space only, own address seen or not, confirmed
 * addresses, and which addresses are worth announcing for each verdict.
 */
import assert from 'node:assert/strict'
import { ReachabilityCore, isGlobal } from '../../src/host/reachability.js'

const LAB = '10.77.0.0/24'
const OWN = ['127.0.0.1', '10.78.0.2']

describe('host: reachability', () => {
  it('tells globally routable addresses from private and special ones', () => {
    for (const ip of ['1.1.1.1', '104.131.131.82', '2606:4700::1111']) assert.ok(isGlobal(ip), ip)
    for (const ip of ['10.1.2.3', '192.168.1.1', '172.20.0.1', '100.64.1.1', '127.0.0.1', '169.254.1.1', '::1', 'fd00::1', 'fe80::1', '2001:db8::1', 'nope']) assert.ok(!isGlobal(ip), ip)
  })

  it('is unknown until a peer in public space sees it; a LAN neighbour is no witness', () => {
    const core = new ReachabilityCore({ publicRanges: [LAB] })
    assert.equal(core.verdict(0), 'unknown')
    assert.equal(core.observed('lan', '10.78.0.9', '10.78.0.2', OWN), false)
    assert.equal(core.verdict(0), 'unknown')
    assert.equal(core.observed('relay', '10.77.0.1', '10.77.0.201', OWN), true)
    assert.equal(core.verdict(0), 'private')
  })

  it('is public when witnesses see one of its own addresses, private when most see another', () => {
    const core = new ReachabilityCore({ publicRanges: [LAB] })
    const own = ['10.77.0.3']
    core.observed('a', '10.77.0.1', '10.77.0.3', own)
    assert.equal(core.verdict(0), 'public')
    core.observed('b', '10.77.0.2', '10.77.0.99', own)
    core.observed('c', '10.77.0.4', '10.77.0.99', own)
    assert.equal(core.verdict(0), 'private')
    // the same witness counts once, with what it saw last
    core.observed('b', '10.77.0.2', '10.77.0.3', own)
    assert.equal(core.verdict(0), 'public')
  })

  it('without publicRanges, a lab range is not the internet', () => {
    const core = new ReachabilityCore()
    assert.equal(core.observed('relay', '10.77.0.1', '10.77.0.201', OWN), false)
    assert.equal(core.verdict(0), 'unknown')
  })

  it('a confirmed address (AutoNAT, UPnP) makes it public until the confirmation lapses', () => {
    const core = new ReachabilityCore({ publicRanges: [LAB] })
    core.observed('relay', '10.77.0.1', '10.77.0.201', OWN)
    core.confirm('10.77.0.201', 1000)
    assert.equal(core.verdict(999), 'public')
    assert.equal(core.verdict(1000), 'private')
    core.confirm('192.168.1.1', 5000)
    assert.deepEqual(core.confirmedIps(2000), [], 'a private address is never confirmed as public')
  })

  it('announces what others can dial: relay addresses unless public, public-space addresses unless private', () => {
    const addrs = [
      { name: 'lan', ip: '10.78.0.2', circuit: false },
      { name: 'wan', ip: '10.77.0.201', circuit: false },
      { name: 'relayed', ip: '10.77.0.1', circuit: true },
      { name: 'dns', circuit: false }
    ]
    const names = (core: ReachabilityCore, now = 0): string[] => core.dialable(addrs, now).map(a => a.name)
    const core = new ReachabilityCore({ publicRanges: [LAB] })
    assert.deepEqual(names(core), ['wan', 'relayed', 'dns'])
    core.observed('relay', '10.77.0.1', '10.77.0.201', OWN)
    assert.deepEqual(names(core), ['relayed', 'dns'])
    core.confirm('10.77.0.201', 10)
    assert.deepEqual(names(core), ['wan', 'dns'])
  })
})
