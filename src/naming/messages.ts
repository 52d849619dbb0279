import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface NameRecord {
  key: Uint8Array<ArrayBuffer>
  record: Uint8Array<ArrayBuffer>
}

export namespace NameRecord {
  let _codec: Codec<NameRecord>

  export const codec = (): Codec<NameRecord> => {
    if (_codec == null) {
      _codec = message<NameRecord>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.key != null && obj.key.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.key)
        }

        if ((obj.record != null && obj.record.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.record)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          key: uint8ArrayAlloc(0),
          record: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.key = reader.bytes()
              break
            }
            case 2: {
              obj.record = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.key`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.record`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface NameRecordKeyFieldEvent {
    field: '$.key'
    value: Uint8Array<ArrayBuffer>
  }

  export interface NameRecordRecordFieldEvent {
    field: '$.record'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<NameRecord>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, NameRecord.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NameRecord>): NameRecord {
    return decodeMessage(buf, NameRecord.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NameRecord>): Generator<NameRecordKeyFieldEvent | NameRecordRecordFieldEvent> {
    return streamMessage(buf, NameRecord.codec(), opts)
  }
}
