/**
 * A script that starts a daemon and polls it until it answers (the usual way to wait for a
 * service) must never make the start fail: a read-only command takes no lock, and one that finds
 * the daemon starting waits for its API.
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { runCli, spawnLoopbackDaemon } from '../helpers/cli.js'
import { tmpDir } from '../helpers/tmp.js'

const ROUNDS = 20
const POLL_GAP_MS = 20

describe('shoal start with a concurrent poll', function () {
  this.timeout(ROUNDS * 30_000)
  let tmp: Awaited<ReturnType<typeof tmpDir>>

  before(async () => { tmp = await tmpDir() })
  after(async () => { await tmp.cleanup() })

  it(`comes up in each of ${ROUNDS} rounds while "shoal id --json" polls it every ${POLL_GAP_MS} ms`, async () => {
    const repo = path.join(tmp.dir, 'repo')
    assert.equal((await runCli(['--repo', repo, 'init'])).code, 0)
    let pollsWhileStarting = 0
    for (let round = 0; round < ROUNDS; round++) {
      let ready = false
      const polls: Array<{ code: number | null, stderr: string, stdout: string }> = []
      const poller = (async () => {
        while (!ready) {
          const r = await runCli(['--repo', repo, '--json', 'id'])
          polls.push(r)
          if (!ready) pollsWhileStarting++
          await new Promise(resolve => setTimeout(resolve, POLL_GAP_MS))
        }
      })()
      // the poll is already running when the daemon begins to start
      await new Promise(resolve => setTimeout(resolve, POLL_GAP_MS))
      let daemon
      try {
        daemon = await spawnLoopbackDaemon(repo)
      } finally {
        ready = true
        await poller
      }
      try {
        for (const p of polls) {
          assert.equal(p.code, 0, `round ${round}: a poll failed: ${p.stderr}`)
          assert.equal(JSON.parse(p.stdout.trim().split('\n').at(-1) ?? '').peerId, daemon.peerId)
          for (const line of p.stderr.split('\n').filter(l => l !== '')) {
            assert.match(line, /waiting for the daemon \(pid \d+\) to start/, `round ${round}: unexpected stderr`)
          }
        }
        // once ready, the daemon answers
        const after = await runCli(['--repo', repo, '--json', 'id'])
        assert.equal(after.code, 0, after.stderr)
        assert.equal(JSON.parse(after.stdout.trim()).online, true)
      } finally {
        assert.equal(await daemon.stop(), 0, `round ${round}: the daemon did not stop cleanly: ${daemon.stderr()}`)
      }
    }
    assert.ok(pollsWhileStarting >= ROUNDS, `the polls ran while daemons started (${pollsWhileStarting})`)
  })
})
