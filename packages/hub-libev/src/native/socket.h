// Socket helpers shared by stream, listener and udp: addresses and fd setup.
#pragma once

#include <napi.h>
#include <sys/socket.h>

#include <string>

namespace hublibev {

#ifndef MSG_NOSIGNAL
// macOS has no MSG_NOSIGNAL; Node ignores SIGPIPE anyway.
#define MSG_NOSIGNAL 0
#endif

// A non-blocking, close-on-exec socket (socket(2) flags where the OS has them).
int OpenSocket(int family, int type);
// accept4(SOCK_NONBLOCK | SOCK_CLOEXEC), or its equivalent where accept4 is missing.
int AcceptSocket(int listen_fd);

// Fills `addr` from a numeric IP (v4 or v6) and port. Returns 0 or -EINVAL.
int IpAddress(const std::string& host, int port, sockaddr_storage* addr, socklen_t* len);
// Fills `addr` for a unix socket path. Returns 0 or -ENAMETOOLONG.
int UnixAddress(const std::string& path, sockaddr_storage* addr, socklen_t* len);
// `{ address, port, family }` as in Node, or undefined.
Napi::Value AddressToJs(Napi::Env env, const sockaddr* addr, socklen_t len);
Napi::Value SockName(Napi::Env env, int fd);
Napi::Value PeerName(Napi::Env env, int fd);
// A JS number: 0 for success, -errno for a failure (JS turns it into Node's code string).
inline Napi::Value Status(Napi::Env env, int status) { return Napi::Number::New(env, status); }
// The bytes of a Buffer / Uint8Array / any ArrayBufferView.
bool ViewBytes(napi_env env, napi_value value, const char** data, size_t* length);
inline bool ViewBytes(Napi::Value value, const char** data, size_t* length) {
  return ViewBytes(value.Env(), value, data, length);
}

}  // namespace hublibev
