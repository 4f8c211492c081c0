export { BACKDOOR_PROMPT, BackdoorServer, type BackdoorServerOptions } from './backdoor.js';
export { BaseServer, type ServerJob, type ServerOptions, type ServerSpawn } from './base-server.js';
export { type ServeOnAllCoresOptions, STARTUP_GRACE_MS, serveOnAllCores } from './cluster.js';
export { connect, type SocketConnectOptions } from './connect.js';
export { type DatagramHandler, DatagramServer, type DatagramServerOptions } from './datagram-server.js';
export {
  type CodedError,
  ConcurrentUse,
  IncompleteRead,
  limitOverrunError,
  socketClosedError,
} from './errors.js';
export type { FetchHandler, ServeInfo } from './http/connection.js';
export { HttpError } from './http/parse.js';
export { FastResponse as Response } from './http/response.js';
export { HttpServer, type HttpServerOptions, type ServeOptions, serve } from './http/server.js';
export { UpgradeRefusal } from './http/upgrade.js';
export { Listener, listen, type SocketListenOptions } from './listener.js';
export { type ResolveOptions, resolve } from './resolve.js';
export { DEFAULT_MAX_LINE, READ_HIGH_WATER_MARK, Socket, WRITE_HIGH_WATER_MARK } from './socket.js';
export { type StreamHandler, StreamServer, type StreamServerOptions } from './stream-server.js';
export {
  Process,
  ProcessReader,
  type ProcessResult,
  ProcessWriter,
  type RunProcessOptions,
  runProcess,
  type SpawnProcessOptions,
  spawnProcess,
} from './subprocess.js';
export {
  acceptTls,
  connectTls,
  type StartTlsOptions,
  startTls,
  type TlsConnectOptions,
  type TlsInfo,
  type TlsOptions,
  tlsInfo,
} from './tls.js';
export { DatagramSocket, type ReceivedDatagram, UDP_RECV_BUFFER, type UdpSocketOptions, udp } from './udp.js';
export { type ConnectWebSocketOptions, connectWebSocket } from './websocket/connect.js';
export { type UpgradeWebSocketOptions, upgradeWebSocket } from './websocket/upgrade.js';
export {
  WebSocket,
  type WebSocketCloseInfo,
  type WebSocketMessage,
  type WebSocketOptions,
} from './websocket/websocket.js';
