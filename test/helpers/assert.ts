import assert from 'node:assert/strict'

/** Assert that `p` rejects with an error of this name (and message, if given); returns the error */
export async function rejectsNamed (p: Promise<unknown>, name: string, message?: RegExp): Promise<any> {
  let caught: any
  await assert.rejects(p, (err: any) => {
    assert.equal(err.name, name)
    if (message != null) assert.match(err.message, message)
    caught = err
    return true
  })
  return caught
}
