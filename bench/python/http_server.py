"""One hello-world HTTP server of the HTTP benchmark, on gevent or eventlet, in
its own process (started by packages/net/bench/http.mjs with --with):

    python3 http_server.py <gevent|eventlet>

A WSGI app answering "Hello, world!" as text/plain, served by gevent.pywsgi or
eventlet.wsgi (HTTP/1.1 keep-alive, no access log). Prints {"port":..,"hub":..}."""
import socket

from common import announce, lib_from_argv

lib = lib_from_argv()
HELLO = b"Hello, world!"


def app(_environ, start_response):
    start_response(
        "200 OK", [("Content-Type", "text/plain;charset=UTF-8"), ("Content-Length", str(len(HELLO)))]
    )
    return [HELLO]


def no_delay(listener):
    """TCP_NODELAY on the listener, which Linux copies to every accepted socket. node:http and
    greenhub's HttpServer set it too; without it pywsgi, which sends the headers and the body in
    two writes, waits ~40 ms for a delayed ACK on every response."""
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listener


if lib == "gevent":
    from gevent.pywsgi import WSGIServer

    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.init_socket()
    no_delay(server.socket)
    server.start()
    announce(server.server_port, "gevent")
    server.serve_forever()
else:
    import eventlet
    import eventlet.wsgi

    listener = no_delay(eventlet.listen(("127.0.0.1", 0), backlog=1024))
    announce(listener.getsockname()[1], "eventlet")
    eventlet.wsgi.server(listener, app, log_output=False)
