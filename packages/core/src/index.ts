export { codedError, GreenletExit, LoopExit } from './errors.js';
export type { Waitable } from './greenlet.js';
export { Greenlet, getcurrent, spawn, spawnLater } from './greenlet.js';
export type {
  ConnectOptions,
  Datagram,
  Handle,
  Hub,
  HubFactory,
  HubOptions,
  HubStats,
  Listener,
  ListenOptions,
  SignalWatcher,
  SocketAddress,
  Stream,
  SystemError,
  Timer,
  UdpOptions,
  Watcher,
} from './hub/index.js';
export { canceledError, hubClosedError, invalidAddressError, systemError } from './hub/index.js';
export { joinall, killall } from './joinall.js';
export { Local } from './local.js';
export type { HubMetrics, MetricsOptions, PublishedMetrics } from './metrics.js';
export { hubMetrics, metricsChannel, publishMetrics, registerMetric } from './metrics.js';
export type { BlockingReport, MonitorOptions } from './monitor.js';
export { BlockingMonitor, blockedChannel, formatBlockingReport, monitor } from './monitor.js';
export type { ConfigureOptions, HubAvailability } from './registry.js';
export { availableHubs, configure, getHub, getSettings, hubSpecifier, resetHub } from './registry.js';
export type { ErrorHandler } from './report-error.js';
export { printError, reportError } from './report-error.js';
export { run } from './run.js';
export { formatRunInfo } from './run-info.js';
export { signalHandler } from './signal-handler.js';
export { idle, sleep } from './sleep.js';
export { Timeout, withTimeout } from './timeout.js';
export { iwait, wait } from './wait.js';
export type { WaitOptions } from './waiter.js';
export { Waiter } from './waiter.js';
