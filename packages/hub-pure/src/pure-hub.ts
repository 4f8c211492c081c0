import { isIP, Server } from 'node:net';
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import type {
  ConnectOptions,
  Datagram,
  Handle,
  Hub,
  HubOptions,
  HubStats,
  Listener,
  ListenOptions,
  SignalWatcher,
  Stream,
  Timer,
  UdpOptions,
} from '@greenhub/core';
import { invalidAddressError } from '@greenhub/core';
import { Runtime } from './internal/runtime.js';
import { ipAddress, unixAddress } from './internal/socket-address.js';
import { bindUdpNow, listenNow, TCP_IPV6ONLY, TCP_REUSEPORT } from './internal/sync-bind.js';
import { PureSignalWatcher } from './signal-watcher.js';
import { ConnectRequest } from './tcp-connect.js';
import { TcpListener } from './tcp-listener.js';
import { PureTimer } from './timer.js';
import { UdpDatagram } from './udp-datagram.js';

const DEFAULT_BACKLOG = 511;

/** Node added `reusePort` to `server.listen()` in 22.12 and 23.1. */
function nodeHasReusePort(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major >= 23 || (major === 22 && minor >= 12);
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    const err = new RangeError(`Port should be an integer >= 0 and < 65536. Received ${port}.`);
    throw Object.assign(err, { code: 'ERR_SOCKET_BAD_PORT' });
  }
  return port;
}

/**
 * The hub on Node's own event loop: timers are `setTimeout`s, callbacks one
 * `setImmediate` per turn, sockets `node:net` and `node:dgram`, signals
 * `process.on`. Everything Node runs keeps working beside it.
 */
class PureHub implements Hub {
  readonly name = 'pure';
  readonly backend = 'libuv';
  readonly #rt: Runtime;
  readonly #elu: EventLoopUtilization = performance.eventLoopUtilization();

  constructor(options: HubOptions) {
    this.#rt = new Runtime(options.onError);
  }

  now(): number {
    this.#rt.assertOpen();
    return this.#rt.now();
  }

  updateNow(): void {
    this.#rt.assertOpen();
    this.#rt.enter();
  }

  callback(fn: () => void): Handle {
    this.#rt.assertOpen();
    return this.#rt.callbacks.push(fn, true);
  }

  timer(afterMs: number, repeatMs = 0): Timer {
    this.#rt.assertOpen();
    return new PureTimer(this.#rt, afterMs, repeatMs);
  }

  signal(name: NodeJS.Signals): SignalWatcher {
    this.#rt.assertOpen();
    return new PureSignalWatcher(this.#rt, name);
  }

  listen(opts: ListenOptions): Listener {
    this.#rt.assertOpen();
    const backlog = opts.backlog ?? DEFAULT_BACKLOG;
    const server = new Server({ allowHalfOpen: true, pauseOnConnect: true });
    if ('path' in opts) {
      listenNow(server, opts.path, -1, backlog, 0);
      return new TcpListener(this.#rt, server, unixAddress(opts.path), backlog);
    }
    const host = opts.host ?? '127.0.0.1';
    if (isIP(host) === 0) throw invalidAddressError(host);
    const port = checkPort(opts.port ?? 0);
    let flags = 0;
    if (opts.ipv6Only) flags |= TCP_IPV6ONLY;
    if (opts.reusePort) {
      if (!nodeHasReusePort()) {
        const err = new Error(
          `reusePort is not supported on Node.js ${process.version} (net gained it in 22.12 / 23.1); use another hub or drop the option`,
        );
        throw Object.assign(err, { code: 'ERR_NOT_SUPPORTED' });
      }
      flags |= TCP_REUSEPORT;
    }
    listenNow(server, host, port, backlog, flags);
    const bound = server.address();
    const address =
      typeof bound === 'object' && bound !== null
        ? ipAddress(bound.address, bound.port)
        : ipAddress(host, port);
    return new TcpListener(this.#rt, server, address, backlog);
  }

  connect(opts: ConnectOptions, cb: (err: Error | null, stream?: Stream) => void): Handle {
    this.#rt.assertOpen();
    return new ConnectRequest(this.#rt, opts, cb);
  }

  udp(opts: UdpOptions): Datagram {
    this.#rt.assertOpen();
    const host = opts.host ?? '127.0.0.1';
    if (isIP(host) === 0) throw invalidAddressError(host);
    const socket = bindUdpNow(host, checkPort(opts.port ?? 0));
    const bound = socket.address();
    return new UdpDatagram(this.#rt, socket, ipAddress(bound.address, bound.port));
  }

  idleTime(): number {
    this.#rt.assertOpen();
    return performance.eventLoopUtilization(this.#elu).idle;
  }

  stats(): HubStats {
    this.#rt.assertOpen();
    const pending = this.#rt.callbacks.pending;
    let active = pending;
    let referenced = pending;
    let open = 0;
    for (const owned of this.#rt.owned) {
      if (owned.active) active++;
      if (owned.keepsAlive) referenced++;
      if (owned.holdsSocket) open++;
    }
    return { active, referenced, open };
  }

  close(): void {
    if (this.#rt.closed) return;
    this.#rt.closed = true;
    this.#rt.callbacks.cancelUser();
    for (const owned of [...this.#rt.owned]) owned.closeByHub();
    this.#rt.owned.clear();
  }

  toString(): string {
    return 'hub(pure)';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/**
 * Create a hub on Node's own event loop: TypeScript only, no native code.
 *
 * Usually loaded by `@greenhub/core`'s registry (`GREENHUB_HUB=pure`) rather
 * than called directly.
 *
 * @param options `onError` receives exceptions thrown by callbacks (default: printed on stderr).
 * @returns A hub named `'pure'` whose backend is `'libuv'`.
 * @example
 * import { createHub } from '@greenhub/hub-pure';
 * const hub = createHub();
 * const t = hub.timer(100);
 * t.start(() => { console.log('100 ms later'); hub.close(); });
 */
export function createHub(options: HubOptions = {}): Hub {
  return new PureHub(options);
}
