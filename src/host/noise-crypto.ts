/**
 * The ChaCha20-Poly1305 noise encrypts every transport message with (at most 64 KiB each), with
 * the key imported once per session instead of once per message.
 *
 * Noise's default crypto hands the raw 32-byte key to `createCipheriv`/`createDecipheriv`, and
 * Node turns it into a secret key object on every call: profiling a 1 GiB fetch put ~0.43 s of
 * the fetcher's event loop in that import (`prepareSecretKey`), about a third of what decryption
 * cost in all. The key of a session's cipher state is one buffer that never changes, so the key
 * object made from it the first time is kept, and checked against the key's bytes before each
 * use. Small messages keep noise's own choice (WebAssembly below 1200 bytes); the handshake's
 * X25519, hashing and HKDF are noise's own.
 */
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto'
import { defaultCrypto } from '@libp2p/noise/crypto'
import { Uint8ArrayList } from 'uint8arraylist'
import type { KeyObject } from 'node:crypto'
import type { ICryptoInterface } from '@libp2p/noise'

const CHACHA_POLY1305 = 'chacha20-poly1305'
const TAG_LENGTH = 16
/** Below this, noise's WebAssembly ChaCha20-Poly1305 beats Node's (its own measurement) */
const SMALL = 1200

interface CachedKey {
  bytes: Uint8Array
  key: KeyObject
}

/** Key objects by the key buffer they were made from; a buffer dies with its session */
const keys = new WeakMap<Uint8Array, CachedKey>()

/** The key object for `k`, made once per key buffer and remade if its bytes ever change */
export function keyObjectOf (k: Uint8Array): KeyObject {
  const cached = keys.get(k)
  if (cached != null && Buffer.compare(cached.bytes, k) === 0) return cached.key
  const bytes = Uint8Array.from(k)
  const key = createSecretKey(bytes)
  keys.set(k, { bytes, key })
  return key
}

/** Buffers whose owner is told once the bytes it sends from them were encrypted: how many are left, and whom to tell */
const watched = new WeakMap<ArrayBufferLike, { left: number, done: () => void }>()

/**
 * Call `done` once every byte of `bytes` (a view from the start of its buffer) has been
 * encrypted by a noise session of this process, when its plaintext is no longer read: a sender
 * whose bytes may wait in the muxer's or noise's send queue after `stream.send` returns learns
 * here when its buffer can be used again. Nothing else from the buffer may be sent while it is
 * watched. On a connection without noise, or when the stream ends before every byte went out,
 * `done` is never called. Returns false, watching nothing, when `bytes` does not start its
 * buffer, is empty, or its buffer is watched already.
 */
export function whenEncrypted (bytes: Uint8Array, done: () => void): boolean {
  const buffer = bytes.buffer
  if (bytes.byteOffset !== 0 || bytes.byteLength === 0 || watched.has(buffer)) return false
  watched.set(buffer, { left: bytes.byteLength, done })
  return true
}

function encrypted (chunks: Iterable<Uint8Array>): void {
  for (const chunk of chunks) {
    const w = watched.get(chunk.buffer)
    if (w == null) continue
    w.left -= chunk.byteLength
    if (w.left <= 0) {
      watched.delete(chunk.buffer)
      w.done()
    }
  }
}

function encrypt (plaintext: Uint8Array | Uint8ArrayList, nonce: Uint8Array, ad: Uint8Array, k: Uint8Array): Uint8Array | Uint8ArrayList {
  // a list is walked twice (to encrypt, then to count watched bytes): no copy of its chunks
  const chunks: Iterable<Uint8Array> = plaintext instanceof Uint8Array ? [plaintext] : plaintext
  if (plaintext.byteLength < SMALL) {
    const sealed = defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    encrypted(chunks)
    return sealed
  }
  const cipher = createCipheriv(CHACHA_POLY1305, keyObjectOf(k), nonce, { authTagLength: TAG_LENGTH })
  cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
  // the ciphertext and its tag go out as a list: noise frames them without joining them
  const out = new Uint8ArrayList()
  for (const chunk of chunks) out.append(cipher.update(chunk))
  const last = cipher.final()
  if (last.byteLength > 0) out.append(last)
  out.append(cipher.getAuthTag())
  encrypted(chunks)
  return out
}

function decrypt (ciphertext: Uint8Array | Uint8ArrayList, nonce: Uint8Array, ad: Uint8Array, k: Uint8Array, dst?: Uint8Array): Uint8Array | Uint8ArrayList {
  if (ciphertext.byteLength < SMALL) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
  const textLength = ciphertext.byteLength - TAG_LENGTH
  const decipher = createDecipheriv(CHACHA_POLY1305, keyObjectOf(k), nonce, { authTagLength: TAG_LENGTH })
  decipher.setAAD(ad, { plaintextLength: textLength })
  decipher.setAuthTag(ciphertext.subarray(textLength))
  if (ciphertext instanceof Uint8Array) {
    const text = decipher.update(ciphertext.subarray(0, textLength))
    const last = decipher.final() // throws when the tag does not match
    return last.byteLength > 0 ? Buffer.concat([text, last]) : text
  }
  const out = new Uint8ArrayList()
  for (const chunk of ciphertext.sublist(0, textLength)) out.append(decipher.update(chunk))
  const last = decipher.final()
  if (last.byteLength > 0) out.append(last)
  return out
}

/** Noise's default crypto with session-cached keys for transport messages */
export const noiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt: encrypt,
  chaCha20Poly1305Decrypt: decrypt
}
