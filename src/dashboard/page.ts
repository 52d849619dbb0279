import { createHash } from 'node:crypto'
import fs from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

/** The page: one self-contained file beside `configs/`, read from the package root at run time */
export const PAGE_FILE = fileURLToPath(new URL('../../../assets/dashboard.html', import.meta.url))

export interface Page {
  html: Buffer
  /** The Content-Security-Policy: only the page's own inline script and style (by hash) run */
  csp: string
}

let loaded: Promise<Page> | undefined

/** The page and its policy, read once */
export async function loadPage (): Promise<Page> {
  loaded ??= fs.readFile(PAGE_FILE).then(pageOf, (err) => {
    loaded = undefined
    throw err
  })
  return loaded
}

export function pageOf (html: Buffer): Page {
  const text = html.toString('utf8')
  const hashes = (tag: string): string => [...text.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))]
    .map(m => `'sha256-${createHash('sha256').update(m[1]).digest('base64')}'`).join(' ')
  const csp = [
    "default-src 'none'",
    `script-src ${hashes('script')}`,
    `style-src ${hashes('style')}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
  ].join('; ')
  return { html, csp }
}
