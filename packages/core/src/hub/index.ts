export type { Hub, HubFactory, HubOptions, HubStats } from './hub.js';
export type { Handle, Watcher, Timer, SignalWatcher } from './watchers.js';
export type { Stream, Listener, ListenOptions, ConnectOptions, SocketAddress } from './stream.js';
export type { Datagram, UdpOptions } from './datagram.js';
export { systemError, canceledError, hubClosedError, invalidAddressError } from './errors.js';
export type { SystemError } from './errors.js';
