/**
 * /metrics on the control API port: Prometheus text without the token, moving counters, and off
 * when the config says so.
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { startPeer, publishRandom } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'

/** The value of one sample line, e.g. `shoal_gateway_requests_total{status="200"}`; 0 when absent */
function sample (text: string, name: string): number {
  const line = text.split('\n').find(l => l.startsWith(name + ' '))
  return line == null ? 0 : Number(line.slice(name.length + 1))
}

describe('metrics: Prometheus text on the API port', function () {
  this.timeout(120_000)

  it('needs no token, carries libp2p\'s and shoal\'s metrics, and counts gateway requests', async () => {
    const tmp = await tmpDir()
    const a = await startPeer(path.join(tmp.dir, 'a'))
    try {
      const first = await fetch(`http://${a.api}/metrics`)
      assert.equal(first.status, 200)
      assert.match(String(first.headers.get('content-type')), /^text\/plain/)
      const before = await first.text()
      assert.match(before, /^libp2p_/m)
      assert.match(before, /^# TYPE shoal_gateway_requests_total counter/m)
      assert.match(before, /^shoal_connected_peers 0$/m)
      assert.match(before, /^shoal_store_bytes\{kind="blocks"\} \d+$/m)
      // the membership table holds at least this peer
      const members = Number(/^shoal_membership_peers (\d+)/m.exec(before)?.[1])
      assert.ok(members >= 1, `membership ${members}`)

      const { cid, bytes } = await publishRandom(a, tmp.dir, 100_000)
      const ok = await fetch(`http://${a.gateway}/ipfs/${cid}`)
      assert.equal(Buffer.from(await ok.arrayBuffer()).byteLength, bytes.byteLength)
      assert.equal((await fetch(`http://${a.gateway}/ipfs/not-a-cid`)).status, 400)

      const after = await (await fetch(`http://${a.api}/metrics`)).text()
      assert.equal(sample(after, 'shoal_gateway_requests_total{status="200"}'), sample(before, 'shoal_gateway_requests_total{status="200"}') + 1)
      assert.equal(sample(after, 'shoal_gateway_requests_total{status="400"}'), 1)
      assert.equal(sample(after, 'shoal_bytes_served_total{protocol="gateway"}'), bytes.byteLength)
      // its one block, read to sniff its type and to serve it: in the store both times
      assert.ok(sample(after, 'shoal_gateway_cache_blocks_total{result="hit"}') >= 1)
      assert.equal(sample(after, 'shoal_gateway_cache_blocks_total{result="miss"}'), 0)
      assert.equal(sample(after, 'shoal_gateway_cache_hit_ratio'), 1)

      // read-only: nothing but GET and HEAD
      assert.equal((await fetch(`http://${a.api}/metrics`, { method: 'POST' })).status, 405)
    } finally {
      await a.stop()
      await tmp.cleanup()
    }
  })

  it('is not served when metrics.enabled is false', async () => {
    const tmp = await tmpDir()
    const a = await startPeer(path.join(tmp.dir, 'a'), (c) => { c.metrics.enabled = false })
    try {
      const r = await fetch(`http://${a.api}/metrics`)
      assert.notEqual(r.status, 200)
      assert.doesNotMatch(await r.text(), /shoal_|libp2p_/)
    } finally {
      await a.stop()
      await tmp.cleanup()
    }
  })
})
