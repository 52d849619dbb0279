/**
 * The connection encrypters a host can offer, by name, in a file of its own so the config can
 * check names without loading libp2p
 */
export type Encrypter = 'tls' | 'noise'

/**
 * Every encrypter a host can offer, in the default order of preference: noise first, TLS for
 * peers without noise. TLS costs the receiving side less CPU per byte, but a daemon's RSS stayed
 * ~70 MB higher after a 1 GiB TLS stream than after a noise one (docs/performance.md)
 */
export const ENCRYPTERS: readonly Encrypter[] = ['noise', 'tls']
