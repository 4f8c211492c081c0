/* The TCP, WebSocket and UDP load client of the network benchmarks (packages/hub-libev/bench and
 * packages/net/bench), compiled with cc at bench time by bench/lib/load-client.mjs.
 * One thread, epoll, loopback only.
 *
 *   client echo PORT CONNS WARMUP_MS RUN_MS
 *     CONNS connections, each a ping-pong of 64-byte messages: the next message
 *     is sent when the whole previous one came back. Round trips completed
 *     during RUN_MS (after WARMUP_MS) are counted; prints one JSON line
 *     {"rps":..,"cpu":..} where cpu is this process's CPU use in that window
 *     (1.0 = one core busy: the client would be the bottleneck).
 *
 *   client ws PORT CONNS WARMUP_MS RUN_MS
 *     The same over WebSocket (packages/net/bench/websocket.mjs): each
 *     connection does a blocking RFC 6455 handshake (101 and the accept key are
 *     checked), then a ping-pong of masked 64-byte binary frames (70 bytes out,
 *     66 back: the server's frames are unmasked). Each echoed frame is checked
 *     (header 0x82 0x40, same payload); anything else exits non-zero.
 *     Same JSON line, counting messages.
 *
 *   client udp PORT SOCKS WARMUP_MS RUN_MS
 *     SOCKS UDP sockets connected to 127.0.0.1:PORT, each a ping-pong of
 *     64-byte datagrams (packages/net/bench/udp.mjs); each reply is checked
 *     (the same 64 bytes). A datagram lost on the way would stall its socket;
 *     on loopback, with at most SOCKS datagrams in flight, none is. Same JSON
 *     line, counting round trips.
 *
 *   client hold PORT CONNS
 *     Opens CONNS connections and keeps them idle; prints "held" once all are
 *     connected, then waits until stdin closes.
 */
#define _GNU_SOURCE /* memmem, strcasestr */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MSG 64

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void die(const char* what) {
  fprintf(stderr, "client: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* A blocking connect (the kernel completes it from the backlog), then non-blocking. */
static int open_conn(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  while (connect(fd, (struct sockaddr*)&a, sizeof(a)) != 0) {
    if (errno != EINTR) die("connect");
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

/* A connection's ping-pong: `out` is sent, and the next `out` once `in_len`
 * bytes came back (equal to `expect` unless it is NULL: the TCP echo mode
 * does not check, as before). */
struct pingpong {
  int conns;
  int* fds;
  int* got; /* bytes of the current reply received, per connection */
  const char* out;
  int out_len;
  const unsigned char* expect;
  int in_len;
  long long count;
};

static void send_one(const struct pingpong* p, int i) {
  if (write(p->fds[i], p->out, (size_t)p->out_len) != p->out_len) die("write");
}

/* Takes `len` bytes read on connection `i`: any split of the replies into
 * reads is fine. A byte that differs from the expected reply ends the run. */
static void feed(struct pingpong* p, int i, const unsigned char* data, ssize_t len) {
  while (len > 0) {
    int take = p->in_len - p->got[i];
    if (take > len) take = (int)len;
    if (p->expect && memcmp(data, p->expect + p->got[i], (size_t)take) != 0) {
      int at = p->got[i];
      while (data[at - p->got[i]] == p->expect[at]) at++; /* bounded: the memcmp found a difference */
      fprintf(stderr, "client: connection %d: unexpected byte 0x%02x at offset %d of a reply (expected 0x%02x)%s\n",
              i, data[at - p->got[i]], at, p->expect[at],
              at < 2 ? ": not an unmasked binary frame of 64 bytes (0x82 0x40)" : ": payload differs");
      exit(1);
    }
    p->got[i] += take;
    data += take;
    len -= take;
    if (p->got[i] == p->in_len) {
      p->got[i] = 0;
      p->count++;
      send_one(p, i);
    }
  }
}

/* Sends the first message on every connection, feeds `pre` (bytes already
 * read per connection, or NULL), then runs the ping-pong and prints the JSON
 * line. */
static int run_pingpong(struct pingpong* p, unsigned char** pre, int* pre_len, double warmup, double run) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  for (int i = 0; i < p->conns; i++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, p->fds[i], &ev) != 0) die("epoll_ctl");
  }
  for (int i = 0; i < p->conns; i++) send_one(p, i);
  if (pre)
    for (int i = 0; i < p->conns; i++) feed(p, i, pre[i], pre_len[i]);
  double start = now_ms();
  double measure_from = start + warmup, end = measure_from + run;
  double cpu_from = 0;
  int measuring = 0;
  struct epoll_event evs[256];
  unsigned char buf[4096];
  for (;;) {
    double t = now_ms();
    if (!measuring && t >= measure_from) {
      measuring = 1;
      p->count = 0;
      cpu_from = cpu_ms();
      measure_from = t;
    }
    if (t >= end) break;
    int n = epoll_wait(ep, evs, 256, 50);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int k = 0; k < n; k++) {
      int i = (int)evs[k].data.u32;
      ssize_t r = read(p->fds[i], buf, sizeof(buf));
      if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        fprintf(stderr, "client: connection %d closed by the server\n", i);
        return 1;
      }
      feed(p, i, buf, r);
    }
  }
  double elapsed = now_ms() - measure_from;
  double cpu = (cpu_ms() - cpu_from) / elapsed;
  printf("{\"rps\":%.1f,\"cpu\":%.3f}\n", p->count * 1e3 / elapsed, cpu);
  fflush(stdout);
  /* Closed by the client, before the bench stops the server. */
  for (int i = 0; i < p->conns; i++) close(p->fds[i]);
  close(ep);
  return 0;
}

static const char msg[MSG] = "0123456789012345678901234567890123456789012345678901234567890123";

static int echo(int port, int conns, double warmup, double run) {
  struct pingpong p = {.conns = conns, .out = msg, .out_len = MSG, .in_len = MSG};
  p.fds = calloc((size_t)conns, sizeof(int));
  p.got = calloc((size_t)conns, sizeof(int));
  if (!p.fds || !p.got) die("calloc");
  for (int i = 0; i < conns; i++) p.fds[i] = open_conn(port);
  return run_pingpong(&p, NULL, NULL, warmup, run);
}

static int udp(int port, int socks, double warmup, double run) {
  struct pingpong p = {.conns = socks, .out = msg, .out_len = MSG, .expect = (const unsigned char*)msg, .in_len = MSG};
  p.fds = calloc((size_t)socks, sizeof(int));
  p.got = calloc((size_t)socks, sizeof(int));
  if (!p.fds || !p.got) die("calloc");
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < socks; i++) {
    p.fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (p.fds[i] < 0) die("socket");
    /* Connected: write() sends to the server, and read() takes only its replies. */
    if (connect(p.fds[i], (struct sockaddr*)&a, sizeof(a)) != 0) die("connect (udp)");
  }
  return run_pingpong(&p, NULL, NULL, warmup, run);
}

/* RFC 6455's sample key and its accept value (section 1.3): any valid key
 * does, and a fixed one spares computing SHA-1 here. */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define WS_FRAME_OUT (2 + 4 + MSG) /* header, mask key, masked payload */
#define WS_FRAME_IN (2 + MSG)      /* header, payload: a server does not mask */
#define WS_MAX_RESPONSE 4096

/* The HTTP upgrade on a blocking socket. Returns the bytes read past the end
 * of the 101's header (frame data, in `*extra`, malloc'ed), their count in
 * `*extra_len`. */
static void ws_handshake(int fd, int port, int i, unsigned char** extra, int* extra_len) {
  char req[256];
  int len = snprintf(req, sizeof(req),
                     "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     port);
  if (write(fd, req, (size_t)len) != len) die("write (handshake)");
  /* A server that never answers must not hang the bench. */
  struct timeval tv = {.tv_sec = 10};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) die("setsockopt");
  static char res[WS_MAX_RESPONSE + 1];
  int got = 0;
  char* head_end = NULL;
  while (!head_end) {
    if (got == WS_MAX_RESPONSE) {
      fprintf(stderr, "client: connection %d: handshake response header over %d bytes\n", i, WS_MAX_RESPONSE);
      exit(1);
    }
    ssize_t r = read(fd, res + got, (size_t)(WS_MAX_RESPONSE - got));
    if (r < 0) {
      if (errno == EINTR) continue;
      die("read (handshake)");
    }
    if (r == 0) {
      fprintf(stderr, "client: connection %d closed by the server during the handshake\n", i);
      exit(1);
    }
    got += (int)r;
    head_end = memmem(res, (size_t)got, "\r\n\r\n", 4);
  }
  head_end += 4;
  res[got] = '\0';
  head_end[-1] = '\0'; /* the header as a string, for the checks below */
  if (strncmp(res, "HTTP/1.1 101 ", 13) != 0) {
    fprintf(stderr, "client: connection %d: handshake refused: %.*s\n", i, (int)strcspn(res, "\r"), res);
    exit(1);
  }
  char* accept = strcasestr(res, "\r\nSec-WebSocket-Accept:");
  if (accept) accept += strlen("\r\nSec-WebSocket-Accept:");
  while (accept && *accept == ' ') accept++;
  if (!accept || strncmp(accept, WS_ACCEPT "\r", strlen(WS_ACCEPT) + 1) != 0) {
    fprintf(stderr, "client: connection %d: handshake: missing or wrong Sec-WebSocket-Accept\n", i);
    exit(1);
  }
  /* Back to reads that wait (epoll says when), as the echo mode's sockets. */
  tv.tv_sec = 0;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) die("setsockopt");
  *extra_len = (int)(res + got - head_end);
  *extra = malloc(*extra_len > 0 ? (size_t)*extra_len : 1);
  if (!*extra) die("malloc");
  memcpy(*extra, head_end, (size_t)*extra_len);
}

static int ws(int port, int conns, double warmup, double run) {
  /* One masked frame, sent again and again: a fixed mask key is enough for a
   * server (it only unmasks), and the payload is the echo mode's. */
  static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  static char out[WS_FRAME_OUT];
  static unsigned char expect[WS_FRAME_IN];
  out[0] = (char)0x82;         /* FIN, binary */
  out[1] = (char)(0x80 | MSG); /* masked, 7-bit length */
  memcpy(out + 2, mask, 4);
  for (int k = 0; k < MSG; k++) out[6 + k] = (char)(msg[k] ^ mask[k % 4]);
  expect[0] = 0x82;
  expect[1] = MSG; /* unmasked */
  memcpy(expect + 2, msg, MSG);

  struct pingpong p = {.conns = conns, .out = out, .out_len = WS_FRAME_OUT, .expect = expect, .in_len = WS_FRAME_IN};
  p.fds = calloc((size_t)conns, sizeof(int));
  p.got = calloc((size_t)conns, sizeof(int));
  unsigned char** extra = calloc((size_t)conns, sizeof(unsigned char*));
  int* extra_len = calloc((size_t)conns, sizeof(int));
  if (!p.fds || !p.got || !extra || !extra_len) die("calloc");
  for (int i = 0; i < conns; i++) {
    p.fds[i] = open_conn(port);
    ws_handshake(p.fds[i], port, i, &extra[i], &extra_len[i]);
  }
  return run_pingpong(&p, extra, extra_len, warmup, run);
}

static int hold(int port, int conns) {
  for (int i = 0; i < conns; i++) open_conn(port);
  printf("held\n");
  fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 6 && strcmp(argv[1], "echo") == 0)
    return echo(atoi(argv[2]), atoi(argv[3]), atof(argv[4]), atof(argv[5]));
  if (argc >= 6 && strcmp(argv[1], "ws") == 0)
    return ws(atoi(argv[2]), atoi(argv[3]), atof(argv[4]), atof(argv[5]));
  if (argc >= 6 && strcmp(argv[1], "udp") == 0)
    return udp(atoi(argv[2]), atoi(argv[3]), atof(argv[4]), atof(argv[5]));
  if (argc >= 4 && strcmp(argv[1], "hold") == 0) return hold(atoi(argv[2]), atoi(argv[3]));
  fprintf(stderr, "usage: client echo|ws|udp PORT CONNS WARMUP_MS RUN_MS | client hold PORT CONNS\n");
  return 2;
}
