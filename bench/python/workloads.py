"""The gevent and eventlet side of the core and sync benchmarks, run in a fresh
process per run by bench/lib/promise-baseline.mjs (started with --with):

    python3 workloads.py <gevent|eventlet> <spawn|queue|timers> N

Runs the workload once to warm up, then once measured, and prints {"ms":..}.
  spawn   spawn N greenlets returning their argument, then join them all
  queue   N hand-offs between two greenlets through two Queues (ping-pong)
  timers  N timers of 0-9 ms at once (the hub's own timers, each firing a
          callback: no greenlet per timer), waiting until all fired"""
import json
import sys
import time

from common import lib_from_argv

lib = lib_from_argv()
workload, n = sys.argv[2], int(sys.argv[3])

if lib == "gevent":
    import gevent
    from gevent.event import Event
    from gevent.queue import Queue

    def spawn():
        gevent.joinall([gevent.spawn(lambda i: i, i) for i in range(n)], raise_error=True)

    def start_timer(delay, callback):
        timer = gevent.get_hub().loop.timer(delay)
        timer.start(callback)
        return timer

    def ping_pong(ping, pong):
        gevent.joinall([gevent.spawn(ping), gevent.spawn(pong)], raise_error=True)

    def set_event(event):
        event.set()

else:
    import eventlet
    from eventlet.event import Event
    from eventlet.queue import Queue

    def spawn():
        for thread in [eventlet.spawn(lambda i: i, i) for i in range(n)]:
            thread.wait()

    def start_timer(delay, callback):
        return eventlet.hubs.get_hub().schedule_call_global(delay, callback)

    def ping_pong(ping, pong):
        threads = [eventlet.spawn(ping), eventlet.spawn(pong)]
        for thread in threads:
            thread.wait()

    def set_event(event):
        event.send()


def queue():
    rounds = n // 2
    ab, ba = Queue(), Queue()

    def ping():
        for i in range(rounds):
            ab.put(i)
            ba.get()

    def pong():
        for _ in range(rounds):
            ba.put(ab.get())

    ping_pong(ping, pong)


def timers():
    done = Event()
    left = n

    def fired():
        nonlocal left
        left -= 1
        if left == 0:
            set_event(done)

    # Kept referenced until all fired: a collected gevent watcher would stop.
    pending = [start_timer((i % 10) / 1000, fired) for i in range(n)]
    done.wait()
    del pending


WORKLOADS = {"spawn": spawn, "queue": queue, "timers": timers}
run = WORKLOADS[workload]
run()  # warm-up, as the Node side does
start = time.perf_counter()
run()
print(json.dumps({"ms": (time.perf_counter() - start) * 1000}))
