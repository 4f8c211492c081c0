"""What the Python servers of the benchmarks share with bench/lib/echo-process.mjs:
the {"port":..,"hub":..} line the parent waits for and the "held" report of
idle-connection runs (see bench/lib/load-client.mjs)."""
import gc
import json
import resource
import sys

# gevent and eventlet are imported by each server after the command line names one,
# so that a run of one never loads the other.
LIBS = ("gevent", "eventlet")


def lib_from_argv():
    """The library named by argv[1] (gevent or eventlet); exits with usage otherwise."""
    if len(sys.argv) < 2 or sys.argv[1] not in LIBS:
        sys.exit(f"usage: {sys.argv[0]} <{'|'.join(LIBS)}> ...")
    return sys.argv[1]


def raise_fd_limit():
    """10k idle connections need more descriptors than the usual soft limit (Node raises its own)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def announce(port, hub):
    """Tell the parent where the server listens (after a gc, so an idle run's RSS starts settled)."""
    gc.collect()
    say(json.dumps({"port": port, "hub": hub}))


def hold_counter(hold, sleep):
    """A function to call once per connection; after the `hold`-th call it prints "held",
    once the process settled (300 ms and a gc, as holdCounter() in echo-process.mjs), then
    "settled" after 6 s more of idleness and another gc (its SETTLE_MS)."""
    accepted = 0

    def counted():
        nonlocal accepted
        accepted += 1
        if hold > 0 and accepted == hold:
            gc.collect()
            sleep(0.3)
            gc.collect()
            say("held")
            sleep(6.0)
            gc.collect()
            say("settled")

    return counted
