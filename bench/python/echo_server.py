"""One echo server of the network benchmarks, on gevent or eventlet, in its own
process (started by packages/net/bench/run.mjs with --with):

    python3 echo_server.py <gevent|eventlet> [HOLD]

Written as the library's users write one: gevent's StreamServer, eventlet's
serve(), a greenlet per connection looping recv()/sendall(). Prints
{"port":..,"hub":..} once listening; with HOLD, prints "held" once HOLD
handlers run, each blocked reading its socket. SIGTERM ends it."""
import socket
import sys

from common import announce, hold_counter, lib_from_argv, raise_fd_limit

lib = lib_from_argv()
hold = int(sys.argv[2]) if len(sys.argv) > 2 else 0
raise_fd_limit()


def echo(sock, counted):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    counted()
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            sock.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        pass  # the load client exits with connections open
    finally:
        sock.close()


if lib == "gevent":
    import gevent
    from gevent.server import StreamServer

    # The last handler settles in counted() (a cooperative sleep) before blocking in recv().
    counted = hold_counter(hold, gevent.sleep)
    server = StreamServer(("127.0.0.1", 0), lambda sock, _addr: echo(sock, counted), backlog=1024)
    server.start()
    announce(server.server_port, "gevent")
    server.serve_forever()
else:
    import eventlet

    counted = hold_counter(hold, eventlet.sleep)
    listener = eventlet.listen(("127.0.0.1", 0), backlog=1024)
    announce(listener.getsockname()[1], "eventlet")
    # serve()'s default pool of 1000 would cap the idle-connection run.
    eventlet.serve(listener, lambda sock, _addr: echo(sock, counted), concurrency=100_000)
