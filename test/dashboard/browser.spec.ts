import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { KiB, MiB } from '../../src/constants.js'
import { runCli } from '../helpers/cli.js'
import { publishRandom, startPeer } from '../helpers/swarm.js'
import { tmpDir } from '../helpers/tmp.js'
import type { DashboardSnapshot, Transfer } from '../../src/dashboard/index.js'
import type { SpawnedDaemon } from '../helpers/cli.js'
import type { Browser, Page } from 'playwright-core'

/** Debian's chromium, which .ci/run installs; SHOAL_CHROMIUM names another */
const CHROMIUM = process.env.SHOAL_CHROMIUM ?? '/usr/bin/chromium'
/** Where screenshots go: test-artifacts/ at the package root (git-ignored) */
const ARTIFACTS = process.env.SHOAL_TEST_ARTIFACTS ?? fileURLToPath(new URL('../../../test-artifacts/', import.meta.url))
/** Window widths the page must fit: a laptop, a small laptop, half of a wide screen */
const WIDTHS = [1280, 1024, 800]

async function launch (): Promise<Browser> {
  const { chromium } = await import('playwright-core')
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
}

/**
 * Table cells that do not fit, at each width: a cell past the edge of the box its table is shown
 * in (which clips or scrolls it) or of the viewport, a cell whose content is wider than the cell,
 * and a page wider than the window
 */
async function misfits (page: Page, widths = WIDTHS): Promise<string[]> {
  const found: string[] = []
  for (const width of widths) {
    await page.setViewportSize({ width, height: 900 })
    // the page lays itself out again (and redraws its chart) on resize: wait for a frame
    await page.evaluate(async () => { await new Promise(resolve => (globalThis as any).requestAnimationFrame(resolve)) })
    const at = await page.evaluate(() => {
      const doc = (globalThis as any).document
      const view = doc.documentElement.clientWidth
      const out: string[] = []
      if (doc.documentElement.scrollWidth > view) out.push(`the page is ${doc.documentElement.scrollWidth} px wide`)
      const px = (n: number): string => n.toFixed(0)
      for (const table of doc.querySelectorAll('table')) {
        // the content box of the table's holder: what passes its edges is cut off or hidden in a scroll
        const holder = table.parentElement
        const style = (globalThis as any).getComputedStyle(holder)
        const hr = holder.getBoundingClientRect()
        const left = Math.max(0, hr.left + holder.clientLeft + parseFloat(style.paddingLeft))
        const right = Math.min(view, hr.left + holder.clientLeft + holder.clientWidth - parseFloat(style.paddingRight))
        for (const cell of table.querySelectorAll('th, td')) {
          const r = cell.getBoundingClientRect()
          const what = `#${table.id} ${cell.tagName.toLowerCase()} "${cell.textContent.trim().slice(0, 40)}"`
          if (r.left < left - 0.5 || r.right > right + 0.5) out.push(`${what} spans ${px(r.left)}-${px(r.right)} px, its table is shown in ${px(left)}-${px(right)} px`)
          else if (cell.scrollWidth > cell.clientWidth + 1) out.push(`${what} holds ${cell.scrollWidth} px in ${cell.clientWidth} px`)
        }
      }
      return out
    })
    found.push(...at.map(m => `at ${width} px: ${m}`))
  }
  return found
}

describe('dashboard: a browser loads the page of a running daemon', function () {
  this.timeout(240_000)
  let tmp: { dir: string, cleanup(): Promise<void> }
  let seeder: SpawnedDaemon | undefined
  let leecher: SpawnedDaemon | undefined
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

    browser ??= await launch()
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
    await page.emulateMedia({ colorScheme: 'light' })
    // every cell of every table fits the page at each width; the last one is saved to look at
    const misfitsRunning = await misfits(page)
    await page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${WIDTHS[WIDTHS.length - 1]}.png`), fullPage: true })
    assert.deepEqual(misfitsRunning, [], 'table cells that do not fit, with a transfer running')

    // the transfer finishes, and the page says so
    const r = await fetching
    assert.equal(r.code, 0, r.stderr)
    await page.waitForSelector(`#transfers tr[data-cid="${cid}"][data-state="done"]`, { timeout: 60_000 })
    // the pinned content is listed under stored content
    await page.waitForSelector(`#pins tr[data-cid="${cid}"]`, { timeout: 60_000 })
    assert.equal(await page.locator('#injected').count(), 0, 'a pin name was rendered as markup')
    assert.ok((await page.locator('#pins').textContent())?.includes('<img src=x id=injected onerror=alert(1)>.txt'))
    assert.deepEqual(await misfits(page), [], 'table cells that do not fit, with the transfer done')
    assert.deepEqual(problems, [], 'the page logged errors (a CSP violation?)')
  })

  it('fits the longest values the page can show into each width', async () => {
    if (leecher == null) throw new Error('daemons did not start')
    browser ??= await launch()
    // the daemon serves the page (and its CSP); the event stream is replaced by one snapshot
    // holding the widest figure each column can show
    const page = await browser.newPage({ viewport: { width: WIDTHS[0], height: 900 }, colorScheme: 'light' })
    const problems: string[] = []
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()) })
    page.on('pageerror', (err) => { problems.push(err.message) })
    const snapshot = widest(leecher.peerId)
    await page.route('**/dashboard/events', async (route) => {
      await route.fulfill({ status: 200, contentType: 'text/event-stream', body: `retry: 600000\nevent: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n` })
    })
    await page.goto(`http://${leecher.api}/dashboard`)
    await page.waitForSelector('#transfers tr[data-state="aborted"]', { timeout: 30_000 })
    assert.equal(await page.locator('#transfers tr[data-cid]').count(), snapshot.transfers.length)

    const found = await misfits(page, [...WIDTHS].reverse())
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-widest.png'), fullPage: true })
    assert.deepEqual(found, [], 'table cells that do not fit, with the widest values')
    assert.deepEqual(problems, [], 'the page logged errors (a CSP violation?)')
    await page.close()
  })
})

/** A snapshot whose every figure is as wide as its formatter makes it */
function widest (peerId: string): DashboardSnapshot {
  const at = Date.now()
  const TiB = 1024 ** 4
  const day = 86_400
  const cid = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
  const peer = (n: number): string => `12D3KooW${String(n).repeat(44)}`.slice(0, 52)
  const transfer = (n: number, state: 'running' | 'done' | 'failed' | 'aborted', fields: Partial<Transfer> = {}): Transfer => ({
    id: n, cid: cid.slice(0, -2) + String(n).padStart(2, '0'), state, startedAt: at - 9 * day * 1000, blocks: 1e9,
    bytes: 1000 * TiB - 1, fetchedBytes: 1000 * TiB - 1, totalBytes: 1000 * TiB, peers: 1000, rate: 1000 * TiB, ...fields
  })
  return {
    v: 1,
    at,
    self: { peerId, agentVersion: 'shoal/10.10.10', online: true, reachability: 'private', addresses: [], gateway: '127.0.0.1:65535', uptime: 999 * day },
    network: { connections: 10_000, peers: 10_000 },
    store: { blocks: 1e9, bytes: 1000 * TiB, pins: 1e6 },
    uploads: { active: 1000, slots: 1000, bytesSent: 1000 * TiB },
    members: [
      { peerId, state: 'alive', uploads: 1000, uploadSlots: 1000, free: 1000 * TiB, pins: 1e6, lastSeen: at, version: 'shoal/10.10.10', self: true },
      ...[1, 2, 3].map(n => ({ peerId: peer(n), state: 'suspect', uploads: 1000, uploadSlots: 1000, free: 1000 * TiB, pins: 1e6, lastSeen: at - (day - 1) * 1000, version: 'shoal/10.10.10', self: false }))
    ],
    transfers: [
      transfer(1, 'running', { eta: day - 1 }),
      transfer(2, 'running', { totalBytes: undefined }),
      transfer(3, 'running', { bytes: 1, totalBytes: 1000 * TiB }),
      transfer(4, 'done', { endedAt: at - 29_000 }),
      transfer(5, 'aborted', { endedAt: at - 29_000, totalBytes: undefined })
    ],
    running: 1000,
    bandwidth: { intervalMs: 1000, samples: [{ at: at - 1000, in: 1000 * TiB, out: 1000 * TiB }, { at, in: 1000 * TiB, out: 1000 * TiB }] },
    pins: {
      total: 1e6,
      items: [
        { cid, name: 'a-name-with-no-spaces-'.repeat(12) + '.tar.zst', size: 1000 * TiB, pinnedAt: at },
        { cid: 'bafk' + 'q'.repeat(200), name: 'a name with spaces in it, as long as names get '.repeat(5), size: 1023, pinnedAt: at }
      ]
    },
    names: [
      { name: 'k51qzi5uqu5dlaye939u4hmfrztmjwllwaws3iubfhbn45p8uxyc0twh5sbii5', sequence: Number.MAX_SAFE_INTEGER, cid, at: at - (day - 1) * 1000 },
      { name: 'k51qzi5uqu5dhh6kircniem4fko4a4b98s7qgwtw1llry33te4cqqdiudhrrjn', failed: 'sequence 9007199254740991 (' + cid + ') could not be fetched: ' + 'no peer has it '.repeat(10) }
    ]
  }
}
