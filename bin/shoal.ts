#!/usr/bin/env node
// block writes (each synced) and file reads share libuv's pool: give them room. It must be set
// before the pool first runs, so the CLI is loaded after.
process.env.UV_THREADPOOL_SIZE ??= '16'
const { main } = await import('../src/cli/index.js')

process.exitCode = await main()
