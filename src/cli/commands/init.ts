import fs from 'node:fs/promises'
import { InvalidArgumentError, UsageError } from '../../errors.js'
import { globalsOf } from '../context.js'
import { printResult } from '../output.js'
import type { Command } from 'commander'

export function register (command: Command): void {
  command
    .option('--config <file>', 'start from this config file instead of configs/default.json')
    .option('--swarm <name>', 'start from a swarm\'s config: local, public, or another name from configs/')
    .action(async (opts: { config?: string, swarm?: string }, ...rest: any[]) => {
      const globals = globalsOf(rest)
      const { initRepo, resolveRepo } = await import('../../peer/repo.js')
      const { swarmConfigText } = await import('../../peer/config.js')
      const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
      const repo = resolveRepo(globals.repo)
      let configText: string | undefined
      if (opts.config != null && opts.swarm != null) throw new UsageError('give --config or --swarm, not both')
      if (opts.swarm != null) {
        try {
          configText = (await swarmConfigText(opts.swarm)).text
        } catch (err: any) {
          throw err.name === 'InvalidConfigError' ? new InvalidArgumentError(err.message) : err
        }
      }
      if (opts.config != null) {
        try {
          configText = await fs.readFile(opts.config, 'utf8')
        } catch (err: any) {
          throw new InvalidArgumentError(`cannot read config file ${opts.config}: ${err.code ?? err.message}`)
        }
      }
      const { key } = await initRepo(repo, { configText })
      const peerId = peerIdFromPrivateKey(key).toString()
      printResult(globals, [`initialized repo ${repo}`, `peer id ${peerId}`], { repo, peerId })
    })
}
