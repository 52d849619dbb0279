import { collect, withApi } from '../context.js'
import { formatBytes, printResult, progressBar } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .option('--from <source>', 'also fetch from this peer, a multiaddr ending in /p2p/<peer id>, or from a trustless gateway, an http(s) URL (repeatable)', collect)
    .option('-o, --output <path>', 'then write the file or tree to this path')
    .option('--force', 'with -o, replace what is already at the output path, once the new content is complete')
    .option('--name <name>', 'name to pin it by')
    .action(withApi('fetch', ['fetch', 'get'], async (api, globals, [cid]) => {
      const force = globals.force === true
      const { checkOutput, writeTree } = await import('../write-tree.js')
      // refuse an output path before fetching, not after the fetch and pin are done
      if (globals.output != null) await checkOutput(globals.output, { force })
      let bar: ReturnType<typeof progressBar> | undefined
      const result = await api.fetch(cid ?? '', {
        from: globals.from,
        name: globals.name,
        onProgress: (e) => {
          if (globals.json === true) {
            // one JSON event per line on stderr; the result goes to stdout
            process.stderr.write(JSON.stringify(e) + '\n')
            return
          }
          if (e.type === 'fetch:block') {
            bar ??= progressBar(globals, e.totalBytes, 'fetch')
            bar.update(e.bytes)
          }
        }
      })
      bar?.stop()
      let written
      if (globals.output != null) written = await writeTree(api.get(cid ?? ''), globals.output, { force })
      printResult(globals, [
        `fetched ${result.cid}: ${result.blocks} blocks, ${formatBytes(result.bytes)} (${result.fetchedBlocks} blocks, ${formatBytes(result.fetchedBytes)} from the network) in ${(result.durationMs / 1000).toFixed(1)} s`,
        ...(written != null ? [`saved to ${globals.output}`] : [])
      ], { ...result, ...(written != null ? { path: globals.output } : {}) })
    }))
}
