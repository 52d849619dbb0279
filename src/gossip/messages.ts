import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Presence {
  addrs: string[]
  version: string
  free: number
  uploads: number
  uploadSlots: number
  pins: number
  time: number
  interval: number
  swarm: number
}

export namespace Presence {
  let _codec: Codec<Presence>

  export const codec = (): Codec<Presence> => {
    if (_codec == null) {
      _codec = message<Presence>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(10)
            w.string(value)
          }
        }

        if ((obj.version != null && obj.version !== '')) {
          w.uint32(18)
          w.string(obj.version)
        }

        if ((obj.free != null && obj.free !== 0)) {
          w.uint32(24)
          w.uint64Number(obj.free)
        }

        if ((obj.uploads != null && obj.uploads !== 0)) {
          w.uint32(32)
          w.uint32(obj.uploads)
        }

        if ((obj.uploadSlots != null && obj.uploadSlots !== 0)) {
          w.uint32(40)
          w.uint32(obj.uploadSlots)
        }

        if ((obj.pins != null && obj.pins !== 0)) {
          w.uint32(48)
          w.uint32(obj.pins)
        }

        if ((obj.time != null && obj.time !== 0)) {
          w.uint32(56)
          w.uint64Number(obj.time)
        }

        if ((obj.interval != null && obj.interval !== 0)) {
          w.uint32(64)
          w.uint32(obj.interval)
        }

        if ((obj.swarm != null && obj.swarm !== 0)) {
          w.uint32(72)
          w.uint32(obj.swarm)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          addrs: [],
          version: '',
          free: 0,
          uploads: 0,
          uploadSlots: 0,
          pins: 0,
          time: 0,
          interval: 0,
          swarm: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              if (obj.addrs.length === 16) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.string())
              break
            }
            case 2: {
              obj.version = reader.string()
              break
            }
            case 3: {
              obj.free = reader.uint64Number()
              break
            }
            case 4: {
              obj.uploads = reader.uint32()
              break
            }
            case 5: {
              obj.uploadSlots = reader.uint32()
              break
            }
            case 6: {
              obj.pins = reader.uint32()
              break
            }
            case 7: {
              obj.time = reader.uint64Number()
              break
            }
            case 8: {
              obj.interval = reader.uint32()
              break
            }
            case 9: {
              obj.swarm = reader.uint32()
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
        const obj = {
          addrs: 16
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              if (obj.addrs === 16) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.string()
              }

              obj.addrs++

              break
            }
            case 2: {
              yield {
                field: `${prefix}.version`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.free`,
                value: reader.uint64Number()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.uploads`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.uploadSlots`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.pins`,
                value: reader.uint32()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.time`,
                value: reader.uint64Number()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.interval`,
                value: reader.uint32()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.swarm`,
                value: reader.uint32()
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

  export interface PresenceAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: string
  }

  export interface PresenceVersionFieldEvent {
    field: '$.version'
    value: string
  }

  export interface PresenceFreeFieldEvent {
    field: '$.free'
    value: number
  }

  export interface PresenceUploadsFieldEvent {
    field: '$.uploads'
    value: number
  }

  export interface PresenceUploadSlotsFieldEvent {
    field: '$.uploadSlots'
    value: number
  }

  export interface PresencePinsFieldEvent {
    field: '$.pins'
    value: number
  }

  export interface PresenceTimeFieldEvent {
    field: '$.time'
    value: number
  }

  export interface PresenceIntervalFieldEvent {
    field: '$.interval'
    value: number
  }

  export interface PresenceSwarmFieldEvent {
    field: '$.swarm'
    value: number
  }

  export function encode (obj: Partial<Presence>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Presence.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Presence>): Presence {
    return decodeMessage(buf, Presence.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Presence>): Generator<PresenceAddrsFieldEvent | PresenceVersionFieldEvent | PresenceFreeFieldEvent | PresenceUploadsFieldEvent | PresenceUploadSlotsFieldEvent | PresencePinsFieldEvent | PresenceTimeFieldEvent | PresenceIntervalFieldEvent | PresenceSwarmFieldEvent> {
    return streamMessage(buf, Presence.codec(), opts)
  }
}

export interface Announce {
  cid: string
  name: string
  size: number
  time: number
  tags: string[]
  replicas: number
}

export namespace Announce {
  let _codec: Codec<Announce>

  export const codec = (): Codec<Announce> => {
    if (_codec == null) {
      _codec = message<Announce>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.cid != null && obj.cid !== '')) {
          w.uint32(10)
          w.string(obj.cid)
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(18)
          w.string(obj.name)
        }

        if ((obj.size != null && obj.size !== 0)) {
          w.uint32(24)
          w.uint64Number(obj.size)
        }

        if ((obj.time != null && obj.time !== 0)) {
          w.uint32(32)
          w.uint64Number(obj.time)
        }

        if (obj.tags != null && obj.tags.length > 0) {
          for (const value of obj.tags) {
            w.uint32(42)
            w.string(value)
          }
        }

        if ((obj.replicas != null && obj.replicas !== 0)) {
          w.uint32(48)
          w.uint32(obj.replicas)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          cid: '',
          name: '',
          size: 0,
          time: 0,
          tags: [],
          replicas: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.cid = reader.string()
              break
            }
            case 2: {
              obj.name = reader.string()
              break
            }
            case 3: {
              obj.size = reader.uint64Number()
              break
            }
            case 4: {
              obj.time = reader.uint64Number()
              break
            }
            case 5: {
              if (opts.limits?.tags != null && obj.tags.length === opts.limits.tags) {
                throw new MaxLengthError('Decode error - repeated field "tags" had too many elements')
              }

              if (obj.tags.length === 16) {
                throw new MaxLengthError('Decode error - repeated field "tags" had too many elements')
              }

              obj.tags.push(reader.string())
              break
            }
            case 6: {
              obj.replicas = reader.uint32()
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
        const obj = {
          tags: 16
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.cid`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.size`,
                value: reader.uint64Number()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.time`,
                value: reader.uint64Number()
              }
              break
            }
            case 5: {
              if (opts.limits?.tags != null && obj.tags === opts.limits.tags) {
                throw new MaxLengthError('Streaming decode error - repeated field "tags" had too many elements')
              }

              if (obj.tags === 16) {
                throw new MaxLengthError('Streaming decode error - repeated field "tags" had too many elements')
              }

              yield {
                field: `${prefix}.tags[]`,
                index: obj.tags,
                value: reader.string()
              }

              obj.tags++

              break
            }
            case 6: {
              yield {
                field: `${prefix}.replicas`,
                value: reader.uint32()
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

  export interface AnnounceCidFieldEvent {
    field: '$.cid'
    value: string
  }

  export interface AnnounceNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface AnnounceSizeFieldEvent {
    field: '$.size'
    value: number
  }

  export interface AnnounceTimeFieldEvent {
    field: '$.time'
    value: number
  }

  export interface AnnounceTagsFieldEvent {
    field: '$.tags[]'
    index: number
    value: string
  }

  export interface AnnounceReplicasFieldEvent {
    field: '$.replicas'
    value: number
  }

  export function encode (obj: Partial<Announce>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Announce.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Announce>): Announce {
    return decodeMessage(buf, Announce.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Announce>): Generator<AnnounceCidFieldEvent | AnnounceNameFieldEvent | AnnounceSizeFieldEvent | AnnounceTimeFieldEvent | AnnounceTagsFieldEvent | AnnounceReplicasFieldEvent> {
    return streamMessage(buf, Announce.codec(), opts)
  }
}

export interface Replicate {
  kind: Replicate.Kind
  cid: string
  time: number
  free: number
  holders: string[]
}

export namespace Replicate {
  export enum Kind {
    VOLUNTEER = 'VOLUNTEER',
    ASSIGN = 'ASSIGN',
    HELD = 'HELD'
  }

  enum __KindValues {
    VOLUNTEER = 0,
    ASSIGN = 1,
    HELD = 2
  }

  export namespace Kind {
    export const codec = (): Codec<Kind> => {
      return enumeration<Kind>(__KindValues)
    }
  }

  let _codec: Codec<Replicate>

  export const codec = (): Codec<Replicate> => {
    if (_codec == null) {
      _codec = message<Replicate>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.kind != null && __KindValues[obj.kind] !== 0) {
          w.uint32(8)
          Replicate.Kind.codec().encode(obj.kind, w)
        }

        if ((obj.cid != null && obj.cid !== '')) {
          w.uint32(18)
          w.string(obj.cid)
        }

        if ((obj.time != null && obj.time !== 0)) {
          w.uint32(24)
          w.uint64Number(obj.time)
        }

        if ((obj.free != null && obj.free !== 0)) {
          w.uint32(32)
          w.uint64Number(obj.free)
        }

        if (obj.holders != null && obj.holders.length > 0) {
          for (const value of obj.holders) {
            w.uint32(42)
            w.string(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kind: Kind.VOLUNTEER,
          cid: '',
          time: 0,
          free: 0,
          holders: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.kind = Replicate.Kind.codec().decode(reader)
              break
            }
            case 2: {
              obj.cid = reader.string()
              break
            }
            case 3: {
              obj.time = reader.uint64Number()
              break
            }
            case 4: {
              obj.free = reader.uint64Number()
              break
            }
            case 5: {
              if (opts.limits?.holders != null && obj.holders.length === opts.limits.holders) {
                throw new MaxLengthError('Decode error - repeated field "holders" had too many elements')
              }

              if (obj.holders.length === 64) {
                throw new MaxLengthError('Decode error - repeated field "holders" had too many elements')
              }

              obj.holders.push(reader.string())
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
        const obj = {
          holders: 64
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.kind`,
                value: Replicate.Kind.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.cid`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.time`,
                value: reader.uint64Number()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.free`,
                value: reader.uint64Number()
              }
              break
            }
            case 5: {
              if (opts.limits?.holders != null && obj.holders === opts.limits.holders) {
                throw new MaxLengthError('Streaming decode error - repeated field "holders" had too many elements')
              }

              if (obj.holders === 64) {
                throw new MaxLengthError('Streaming decode error - repeated field "holders" had too many elements')
              }

              yield {
                field: `${prefix}.holders[]`,
                index: obj.holders,
                value: reader.string()
              }

              obj.holders++

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

  export interface ReplicateKindFieldEvent {
    field: '$.kind'
    value: Replicate.Kind
  }

  export interface ReplicateCidFieldEvent {
    field: '$.cid'
    value: string
  }

  export interface ReplicateTimeFieldEvent {
    field: '$.time'
    value: number
  }

  export interface ReplicateFreeFieldEvent {
    field: '$.free'
    value: number
  }

  export interface ReplicateHoldersFieldEvent {
    field: '$.holders[]'
    index: number
    value: string
  }

  export function encode (obj: Partial<Replicate>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Replicate.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Replicate>): Replicate {
    return decodeMessage(buf, Replicate.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Replicate>): Generator<ReplicateKindFieldEvent | ReplicateCidFieldEvent | ReplicateTimeFieldEvent | ReplicateFreeFieldEvent | ReplicateHoldersFieldEvent> {
    return streamMessage(buf, Replicate.codec(), opts)
  }
}
