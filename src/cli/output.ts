import { createRequire } from 'node:module'
import { isBadInput } from '../http-status.js'
import type { PinInfo } from '../interface/types.js'

/** Global flags every command sees */
export interface Globals {
  repo?: string
  json?: boolean
}

/**
 * Print a command's result: lines for people, or with `--json` the result as one JSON object on
 * the last line of stdout.
 */
export function printResult (globals: Globals, human: string | string[], result: unknown): void {
  if (globals.json === true) {
    process.stdout.write(JSON.stringify(result) + '\n')
    return
  }
  const lines = Array.isArray(human) ? human : [human]
  if (lines.length > 0) process.stdout.write(lines.join('\n') + '\n')
}

export interface Progress {
  update(bytes: number): void
  stop(): void
}

/**
 * A progress bar (bytes, rate, ETA) on stderr, shown only when stderr is a terminal and the
 * output is not `--json`
 */
export function progressBar (globals: Globals, total: number | undefined, label: string): Progress {
  if (globals.json === true || process.stderr.isTTY !== true) {
    return { update () {}, stop () {} }
  }
  // loaded only when a bar is shown: most runs have no terminal to show it on
  const cliProgress: typeof import('cli-progress') = createRequire(import.meta.url)('cli-progress')
  const started = Date.now()
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${label} [{bar}] {percentage}% | {done} / {size} | {rate}/s | ETA {eta_formatted}`,
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 50
  }, cliProgress.Presets.shades_classic)
  const size = total ?? 0
  bar.start(Math.max(size, 1), 0, { done: formatBytes(0), size: total != null ? formatBytes(size) : '?', rate: formatBytes(0) })
  return {
    update (bytes) {
      const seconds = Math.max((Date.now() - started) / 1000, 0.001)
      bar.update(Math.min(bytes, Math.max(size, 1)), { done: formatBytes(bytes), rate: formatBytes(bytes / seconds) })
    },
    stop () { bar.stop() }
  }
}

export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${i === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[i]}`
}

/**
 * Stream bytes to stdout. A reader that closes stdout early (`shoal cat CID | head`) ends the
 * command quietly, as SIGPIPE ends `cat`: it is not a failure.
 */
export async function toStdout (source: AsyncIterable<Uint8Array>): Promise<void> {
  // written by hand: a stream pipeline costs a small `shoal cat` a sixth of Node's start-up
  const out = process.stdout
  let failure: any
  let wake: (() => void) | undefined
  // kept to the end of the process: an error that comes after the last write must not go unheard
  out.on('error', (err) => {
    failure ??= err
    wake?.()
  })
  /** Until what was written has gone out, or the stream failed */
  const drained = async (): Promise<void> => {
    await new Promise<void>((resolve) => {
      wake = resolve
      out.once('drain', resolve)
    })
    out.off('drain', wake as () => void)
    wake = undefined
  }
  // leaving the loop early (a failure) ends the source, as a pipeline would
  for await (const chunk of source) {
    if (failure != null) break
    if (!out.write(chunk) && failure == null) await drained()
    if (failure != null) break
  }
  // what is written reaches the reader (or fails) before the command reports success
  if (failure == null) await new Promise<void>((resolve) => { out.write(new Uint8Array(0), () => { resolve() }) })
  if (failure != null && failure.code !== 'EPIPE') throw failure
}

/** Exit code for an error: 2 for bad input, 1 for every other failure */
export function exitCodeOf (err: unknown): number {
  return isBadInput(err) ? 2 : 1
}

/** One line on stderr naming the problem */
export function reportError (err: any): void {
  const message = String(err?.message ?? err).split('\n')[0]
  process.stderr.write(`shoal: ${message}\n`)
  if (process.env.SHOAL_DEBUG != null && err?.stack != null) process.stderr.write(`${err.stack}\n`)
}

/**
 * Split pins into the readable and those whose record cannot be read; each of the latter is
 * named on stderr (one line: the file, why, what to do) and the command will exit 1
 */
export function splitUnreadablePins (pins: PinInfo[]): { pins: PinInfo[], unreadable: Array<{ cid: string, file: string, reason: string }> } {
  const readable: PinInfo[] = []
  const unreadable: Array<{ cid: string, file: string, reason: string }> = []
  for (const p of pins) {
    if (p.unreadable == null) {
      readable.push(p)
      continue
    }
    unreadable.push({ cid: p.cid, file: p.unreadable.file, reason: p.unreadable.reason })
    process.stderr.write(`shoal: the pin record ${p.unreadable.file} of ${p.cid} cannot be read (${p.unreadable.reason}): fix it, write it anew with "shoal pin add ${p.cid}", or remove it with "shoal pin rm ${p.cid}"; gc refuses to run until then\n`)
    process.exitCode = 1
  }
  return { pins: readable, unreadable }
}
