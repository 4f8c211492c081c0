export { connect, type SocketConnectOptions } from './connect.js';
export {
  type CodedError,
  ConcurrentUse,
  IncompleteRead,
  limitOverrunError,
  socketClosedError,
} from './errors.js';
export { Listener, listen, type SocketListenOptions } from './listener.js';
export { type ResolveOptions, resolve } from './resolve.js';
export { DEFAULT_MAX_LINE, READ_HIGH_WATER_MARK, Socket, WRITE_HIGH_WATER_MARK } from './socket.js';
export { DatagramSocket, type ReceivedDatagram, UDP_RECV_BUFFER, type UdpSocketOptions, udp } from './udp.js';
