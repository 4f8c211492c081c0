/* The TCP load client of the network benchmarks (packages/hub-libev/bench and
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
 *   client hold PORT CONNS
 *     Opens CONNS connections and keeps them idle; prints "held" once all are
 *     connected, then waits until stdin closes.
 */
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

static int echo(int port, int conns, double warmup, double run) {
  static const char msg[MSG] = "0123456789012345678901234567890123456789012345678901234567890123";
  int ep = epoll_create1(EPOLL_CLOEXEC);
  int* got = calloc((size_t)conns, sizeof(int));
  int* fds = calloc((size_t)conns, sizeof(int));
  for (int i = 0; i < conns; i++) {
    fds[i] = open_conn(port);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) != 0) die("epoll_ctl");
  }
  for (int i = 0; i < conns; i++)
    if (write(fds[i], msg, MSG) != MSG) die("write");
  double start = now_ms();
  double measure_from = start + warmup, end = measure_from + run;
  double cpu_from = 0;
  long long count = 0;
  int measuring = 0;
  struct epoll_event evs[256];
  char buf[4096];
  for (;;) {
    double t = now_ms();
    if (!measuring && t >= measure_from) {
      measuring = 1;
      count = 0;
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
      ssize_t r = read(fds[i], buf, sizeof(buf));
      if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        fprintf(stderr, "client: connection %d closed by the server\n", i);
        return 1;
      }
      got[i] += (int)r;
      while (got[i] >= MSG) {
        got[i] -= MSG;
        count++;
        if (write(fds[i], msg, MSG) != MSG) die("write");
      }
    }
  }
  double elapsed = now_ms() - measure_from;
  double cpu = (cpu_ms() - cpu_from) / elapsed;
  printf("{\"rps\":%.1f,\"cpu\":%.3f}\n", count * 1e3 / elapsed, cpu);
  fflush(stdout);
  return 0;
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
  if (argc >= 4 && strcmp(argv[1], "hold") == 0) return hold(atoi(argv[2]), atoi(argv[3]));
  fprintf(stderr, "usage: client echo PORT CONNS WARMUP_MS RUN_MS | client hold PORT CONNS\n");
  return 2;
}
