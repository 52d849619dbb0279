/**
 * Noise's ChaCha20-Poly1305 with session-cached keys: interchangeable with noise's default crypto
 * in both directions, for whole buffers and for messages split over several chunks, and it
 * refuses a tampered message.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import { keyObjectOf, noiseCrypto, whenEncrypted } from '../../src/host/noise-crypto.js'

/** The bytes as a Buffer, whatever they came in, so that comparisons see bytes only */
function bytesOf (b: Uint8Array | Uint8ArrayList): Buffer {
  const whole = b instanceof Uint8Array ? b : b.subarray()
  return Buffer.from(whole.buffer, whole.byteOffset, whole.byteLength)
}

/** `buf` as a list of chunks cut at random points */
function split (buf: Uint8Array, pieces: number): Uint8ArrayList {
  const cuts = [...new Set(Array.from({ length: pieces - 1 }, () => Math.floor(Math.random() * buf.byteLength)))].sort((a, b) => a - b)
  const list = new Uint8ArrayList()
  let at = 0
  for (const c of [...cuts, buf.byteLength]) {
    list.append(buf.subarray(at, c))
    at = c
  }
  return list
}

describe('host: noise crypto', () => {
  const k = randomBytes(32)
  const ad = randomBytes(32)
  let counter = 0
  const nonce = (): Uint8Array => {
    const n = new Uint8Array(12)
    new DataView(n.buffer).setUint32(4, ++counter, true)
    return n
  }

  for (const size of [0, 100, 1199, 1200, 4096, 65519]) {
    it(`a ${size} byte message round-trips with noise's default crypto both ways, whole and in chunks`, () => {
      const plain = randomBytes(size)
      const n1 = nonce()
      const mine = bytesOf(noiseCrypto.chaCha20Poly1305Encrypt(plain, n1, ad, k))
      const theirs = bytesOf(defaultCrypto.chaCha20Poly1305Encrypt(plain, n1, ad, k))
      assert.deepEqual(mine, theirs)
      assert.equal(mine.byteLength, size + 16)
      assert.deepEqual(bytesOf(defaultCrypto.chaCha20Poly1305Decrypt(mine, n1, ad, k)), plain)
      assert.deepEqual(bytesOf(noiseCrypto.chaCha20Poly1305Decrypt(theirs, n1, ad, k)), plain)
      if (size > 2) {
        assert.deepEqual(bytesOf(noiseCrypto.chaCha20Poly1305Encrypt(split(plain, 3), n1, ad, k)), theirs)
        assert.deepEqual(bytesOf(noiseCrypto.chaCha20Poly1305Decrypt(split(theirs, 4), n1, ad, k)), plain)
      }
    })
  }

  it('refuses a message with a flipped bit, a wrong nonce or wrong associated data', () => {
    const plain = randomBytes(20_000)
    const n1 = nonce()
    const sealed = Uint8Array.from(bytesOf(noiseCrypto.chaCha20Poly1305Encrypt(plain, n1, ad, k)))
    const flipped = Uint8Array.from(sealed)
    flipped[1234] ^= 1
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(flipped, n1, ad, k))
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(split(flipped, 3), n1, ad, k))
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce(), ad, k))
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, n1, randomBytes(32), k))
    assert.deepEqual(bytesOf(noiseCrypto.chaCha20Poly1305Decrypt(sealed, n1, ad, k)), plain)
  })

  it('keeps one key object per key buffer and makes a new one when its bytes change', () => {
    const key = randomBytes(32)
    const first = keyObjectOf(key)
    assert.equal(keyObjectOf(key), first)
    assert.notEqual(keyObjectOf(Uint8Array.from(key)), first)
    const plain = randomBytes(5000)
    const n1 = nonce()
    key[0] ^= 0xff
    const changed = keyObjectOf(key)
    assert.notEqual(changed, first)
    assert.deepEqual(changed.export(), Buffer.from(key))
    // what is sealed under the changed bytes opens with noise's crypto under the same bytes
    const sealed = noiseCrypto.chaCha20Poly1305Encrypt(plain, n1, ad, key)
    assert.deepEqual(bytesOf(defaultCrypto.chaCha20Poly1305Decrypt(bytesOf(sealed), n1, ad, key)), plain)
  })

  it('tells a watched buffer\'s owner once its last byte is encrypted, and not before', () => {
    const block: Uint8Array = new Uint8Array(new SharedArrayBuffer(200_000)).subarray(0, 150_000)
    const list = (...views: Uint8Array[]): Uint8ArrayList => { const l = new Uint8ArrayList(); for (const v of views) l.append(v as Uint8Array<ArrayBuffer>); return l }
    let told = 0
    assert.equal(whenEncrypted(block, () => { told++ }), true)
    assert.equal(whenEncrypted(block, () => {}), false, 'a buffer watched already')
    assert.equal(whenEncrypted(randomBytes(10).subarray(1), () => {}), false, 'a view that does not start its buffer')
    assert.equal(whenEncrypted(new Uint8Array(0), () => {}), false, 'an empty view')
    // sent as noise sends it: messages of at most 65519 bytes, here with other bytes around it
    const other = randomBytes(3000)
    const first = list(other.subarray(0, 12), block.subarray(0, 60_000))
    const second = list(block.subarray(60_000, 125_519))
    const small = block.subarray(125_519, 126_000)
    const last = list(block.subarray(126_000), other.subarray(12, 40))
    for (const message of [first, second, small]) {
      noiseCrypto.chaCha20Poly1305Encrypt(message, nonce(), ad, k)
      assert.equal(told, 0, 'told before every byte was encrypted')
    }
    noiseCrypto.chaCha20Poly1305Encrypt(last, nonce(), ad, k)
    assert.equal(told, 1)
    // the buffer is no longer watched: its next bytes tell nobody, and it can be watched again
    noiseCrypto.chaCha20Poly1305Encrypt(block.subarray(0, 5000), nonce(), ad, k)
    assert.equal(told, 1)
    assert.equal(whenEncrypted(block.subarray(0, 10), () => { told++ }), true)
    noiseCrypto.chaCha20Poly1305Encrypt(block.subarray(0, 10), nonce(), ad, k)
    assert.equal(told, 2)
  })
})
