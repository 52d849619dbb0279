import assert from 'node:assert/strict'
import { isName } from '../src/names.js'

describe('names: swarm names and tags', () => {
  it('accepts 1 to 64 of a-z, 0-9, ".", "_", "-" that start with a letter or digit', () => {
    for (const name of ['a', '7', 'news', 'local', 'a.b_c-1', 'x'.repeat(64)]) assert.equal(isName(name), true, name)
  })

  it('refuses anything else', () => {
    for (const name of ['', 'x'.repeat(65), 'News', '-a', '.a', '_a', 'a/b', 'a b', 'é', '../x', 'a\n']) assert.equal(isName(name), false, JSON.stringify(name))
    for (const value of [undefined, null, 7, ['a'], { name: 'a' }]) assert.equal(isName(value), false, String(value))
  })
})
