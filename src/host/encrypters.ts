/**
 * The connection encrypters a host can offer, by name, in a file of its own so the config can
 * check names without loading libp2p
 */
export type Encrypter = 'tls' | 'noise'

/** Every encrypter a host can offer, in the default order of preference */
export const ENCRYPTERS: readonly Encrypter[] = ['tls', 'noise']
