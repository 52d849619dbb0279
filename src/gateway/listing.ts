/** One row of a directory listing */
export interface ListingEntry {
  name: string
  cid: string
  kind: string
  size: number
}

/** An HTML page listing a directory; every name is escaped and every link stays inside it */
export function listingPage (path: string, cid: string, entries: ListingEntry[]): string {
  const rows = entries.map(e => {
    const href = `./${encodeURIComponent(e.name)}${e.kind === 'directory' ? '/' : ''}`
    return `<tr><td><a href="${escape(href)}">${escape(e.name)}${e.kind === 'directory' ? '/' : ''}</a></td><td>${e.kind === 'directory' ? '-' : e.size}</td><td><code>${escape(e.cid)}</code></td></tr>`
  })
  const up = path.split('/').filter(Boolean).length > 2 ? '<tr><td><a href="../">..</a></td><td></td><td></td></tr>' : ''
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Index of ${escape(path)}</title>
<style>body{font-family:sans-serif;margin:2em}td{padding:0 1em 0 0}code{font-size:smaller;color:#666}</style></head>
<body><h1>Index of ${escape(path)}</h1><p><code>${escape(cid)}</code></p>
<table><thead><tr><th>name</th><th>size</th><th>cid</th></tr></thead><tbody>
${up}${rows.join('\n')}
</tbody></table></body></html>
`
}

function escape (s: string): string {
  return s.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
}
