export type {
  Hub,
  HubFactory,
  HubOptions,
  HubStats,
  Handle,
  Watcher,
  Timer,
  SignalWatcher,
  Stream,
  Listener,
  ListenOptions,
  ConnectOptions,
  SocketAddress,
  Datagram,
  UdpOptions,
  SystemError,
} from './hub/index.js';
export { systemError, canceledError, hubClosedError, invalidAddressError } from './hub/index.js';
export { configure, getHub, resetHub, availableHubs, hubSpecifier, getSettings } from './registry.js';
export type { ConfigureOptions, HubAvailability } from './registry.js';
export { reportError, printError } from './report-error.js';
export type { ErrorHandler } from './report-error.js';
export { GreenletExit, LoopExit } from './errors.js';
export { Greenlet, spawn, spawnLater, getcurrent } from './greenlet.js';
export type { Waitable } from './greenlet.js';
export { Waiter } from './waiter.js';
export type { WaitOptions } from './waiter.js';
export { sleep, idle } from './sleep.js';
export { joinall, killall } from './joinall.js';
export { wait, iwait } from './wait.js';
export { Timeout, withTimeout } from './timeout.js';
export { Local } from './local.js';
export { signalHandler } from './signal-handler.js';
export { run } from './run.js';
export { formatRunInfo, hubMetrics } from './run-info.js';
export type { HubMetrics } from './run-info.js';
