import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { KiB, MiB } from '../../src/constants.js'
import { runCli } from '../helpers/cli.js'
import { publishRandom, startPeer } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import type { DaemonProcess } from '../helpers/cli.js'
import type { Browser } from 'playwright-core'

/** Debian's chromium, which .ci/run installs; SHOAL_CHROMIUM names another */
const CHROMIUM = process.env.SHOAL_CHROMIUM ?? '/usr/bin/chromium'
/** Where screenshots go: test-artifacts/ at the package root (git-ignored) */
const ARTIFACTS = process.env.SHOAL_TEST_ARTIFACTS ?? fileURLToPath(new URL('../../../test-artifacts/', import.meta.url))

describe('dashboard: a browser loads the page of a running daemon', function () {
  this.timeout(240_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let seeder: DaemonProcess | undefined
  let leecher: DaemonProcess | undefined
  let browser: Browser | undefined
  let fetching: ReturnType<typeof runCli> | undefined

  before(async function () {
    if (process.env.SHOAL_SKIP_BROWSER === '1') {
      // eslint-disable-next-line no-console
      console.log('      (skipped: SHOAL_SKIP_BROWSER=1; CI runs it with Debian\'s chromium)')
      this.skip()
    }
    // no silent skip: CI installs chromium, so a missing one is a failure
    assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium), set SHOAL_CHROMIUM, or set SHOAL_SKIP_BROWSER=1 to skip`)
    tmp = await tmpDir()
    // a seeder that uploads slowly, so the fetch is still running while the page is looked at
    seeder = await startPeer(path.join(tmp.dir, 'seeder'), (c) => {
      c.exchange.uploadRate = 256 * KiB
      c.gossip.presenceIntervalMs = 2000
    })
    const bootstrap = seeder.addresses[0]
    leecher = await startPeer(path.join(tmp.dir, 'leecher'), (c) => {
      c.bootstrap = [bootstrap]
      c.gossip.presenceIntervalMs = 2000
    })
  })

  after(async () => {
    await browser?.close().catch(() => {})
    await leecher?.stop()
    await seeder?.stop()
    await fetching?.catch(() => {})
    await tmp?.cleanup()
  })

  it('shows the peer id, the swarm\'s members and a transfer in progress, and saves a screenshot', async () => {
    if (seeder == null || leecher == null) throw new Error('daemons did not start')
    const { cid } = await publishRandom(seeder, tmp.dir, 4 * MiB, 'big.bin')
    // a name with markup in it, pinned where the page shows it: it must come out as text
    const hostile = path.join(tmp.dir, '<img src=x id=injected onerror=alert(1)>.txt')
    fs.writeFileSync(hostile, 'hello')
    const pub = await runCli(['--repo', leecher.repo, '--json', 'publish', hostile])
    assert.equal(pub.code, 0, pub.stderr)

    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' })
    const problems: string[] = []
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()) })
    page.on('pageerror', (err) => { problems.push(err.message) })

    const res = await page.goto(`http://${leecher.api}/dashboard`)
    assert.equal(res?.status(), 200)
    assert.match(res?.headers()['content-security-policy'] ?? '', /default-src 'none'/)

    // functions run in the page reach its document through globalThis (no DOM types here); the
    // page's CSP forbids eval, so string predicates would not run
    // the page is fed by the event stream: the peer id arrives with the first snapshot
    await page.waitForFunction((id) => (globalThis as any).document.getElementById('peer-id')?.textContent === id, leecher.peerId, { timeout: 60_000 })
    await page.waitForSelector(`#members tr[data-peer="${seeder.peerId}"]`, { timeout: 90_000 })

    fetching = runCli(['--repo', leecher.repo, '--json', 'fetch', cid], { timeoutMs: 180_000 })
    const running = `#transfers tr[data-cid="${cid}"][data-state="running"]`
    await page.waitForSelector(running, { timeout: 90_000 })
    // wait for a leaf block or so, so the screenshot shows progress; the slow seeder keeps it running
    await page.waitForFunction((sel) => Number((globalThis as any).document.querySelector(sel)?.getAttribute('data-bytes') ?? 0) >= 1024 * 1024, running, { timeout: 90_000 }).catch(() => {})

    const shown = {
      peerId: await page.locator('#peer-id').textContent(),
      members: await page.locator('#members tr[data-peer]').count(),
      transfers: await page.locator('#transfers tr[data-cid]').count()
    }
    assert.equal(shown.peerId, leecher.peerId)
    assert.ok(shown.members >= 2, `members shown: ${shown.members}`)
    assert.ok(shown.transfers >= 1)

    fs.mkdirSync(ARTIFACTS, { recursive: true })
    const shot = path.join(ARTIFACTS, 'dashboard.png')
    await page.screenshot({ path: shot, fullPage: true })
    assert.ok(fs.statSync(shot).size > 10_000, 'the screenshot is (nearly) empty')
    await page.emulateMedia({ colorScheme: 'dark' })
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-dark.png'), fullPage: true })

    // the transfer finishes, and the page says so
    const r = await fetching
    assert.equal(r.code, 0, r.stderr)
    await page.waitForSelector(`#transfers tr[data-cid="${cid}"][data-state="done"]`, { timeout: 60_000 })
    // the pinned content is listed under stored content
    await page.waitForSelector(`#pins tr[data-cid="${cid}"]`, { timeout: 60_000 })
    assert.equal(await page.locator('#injected').count(), 0, 'a pin name was rendered as markup')
    assert.ok((await page.locator('#pins').textContent())?.includes('<img src=x id=injected onerror=alert(1)>.txt'))
    assert.deepEqual(problems, [], 'the page logged errors (a CSP violation?)')
  })
})
