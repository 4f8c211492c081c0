export type { Datagram, UdpOptions } from './datagram.js';
export type { SystemError } from './errors.js';
export { canceledError, hubClosedError, invalidAddressError, systemError } from './errors.js';
export type { Hub, HubFactory, HubOptions, HubStats } from './hub.js';
export type { ConnectOptions, Listener, ListenOptions, SocketAddress, Stream } from './stream.js';
export type { Handle, SignalWatcher, Timer, Watcher } from './watchers.js';
