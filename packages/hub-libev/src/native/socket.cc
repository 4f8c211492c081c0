#include "socket.h"

#include "loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

namespace hublibev {

namespace {
#if !defined(SOCK_NONBLOCK) || !defined(__linux__)
int MakeNonBlocking(int fd) {
  if (fd < 0) return fd;
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}
#endif
}  // namespace

int OpenSocket(int family, int type) {
#ifdef SOCK_NONBLOCK
  return socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
  return MakeNonBlocking(socket(family, type, 0));
#endif
}

int AcceptSocket(int listen_fd) {
#ifdef __linux__
  return accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
  return MakeNonBlocking(accept(listen_fd, nullptr, nullptr));
#endif
}

int IpAddress(const std::string& host, int port, sockaddr_storage* addr, socklen_t* len) {
  memset(addr, 0, sizeof(*addr));
  auto* v4 = reinterpret_cast<sockaddr_in*>(addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in);
    return 0;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(addr);
  std::string h = host;
  std::string scope;
  size_t pct = h.find('%');
  if (pct != std::string::npos) {
    scope = h.substr(pct + 1);
    h = h.substr(0, pct);
  }
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    if (!scope.empty()) v6->sin6_scope_id = static_cast<uint32_t>(strtoul(scope.c_str(), nullptr, 10));
    *len = sizeof(sockaddr_in6);
    return 0;
  }
  return -EINVAL;
}

int UnixAddress(const std::string& path, sockaddr_storage* addr, socklen_t* len) {
  memset(addr, 0, sizeof(*addr));
  auto* un = reinterpret_cast<sockaddr_un*>(addr);
  if (path.size() >= sizeof(un->sun_path)) return -ENAMETOOLONG;
  un->sun_family = AF_UNIX;
  memcpy(un->sun_path, path.data(), path.size());
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return 0;
}

// Raw N-API on purpose: also used from libev callbacks, where a failing call
// (environment terminating) must not turn into a thrown C++/JS error.
static void SetString(napi_env env, napi_value obj, const char* key, const char* text, size_t len) {
  napi_value v;
  if (napi_create_string_utf8(env, text, len, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

// The family names are the same few strings for every address: made once per environment.
static void SetFamily(napi_env env, napi_value obj, const char* family) {
  napi_value v = Loop::From(env)->Key(family);
  if (v != nullptr) napi_set_named_property(env, obj, "family", v);
}

static void SetInt(napi_env env, napi_value obj, const char* key, int value) {
  napi_value v;
  if (napi_create_int32(env, value, &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

Napi::Value AddressToJs(Napi::Env env, const sockaddr* addr, socklen_t len) {
  napi_value out;
  napi_create_object(env, &out);
  char text[INET6_ADDRSTRLEN + 16] = {0};
  if (addr->sa_family == AF_INET) {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(addr);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    SetString(env, out, "address", text, NAPI_AUTO_LENGTH);
    SetInt(env, out, "port", ntohs(v4->sin_port));
    SetFamily(env, out, "IPv4");
  } else if (addr->sa_family == AF_INET6) {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(addr);
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    SetString(env, out, "address", text, NAPI_AUTO_LENGTH);
    SetInt(env, out, "port", ntohs(v6->sin6_port));
    SetFamily(env, out, "IPv6");
  } else if (addr->sa_family == AF_UNIX) {
    auto* un = reinterpret_cast<const sockaddr_un*>(addr);
    size_t max = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    SetString(env, out, "address", un->sun_path, strnlen(un->sun_path, max));
    SetInt(env, out, "port", 0);
    SetFamily(env, out, "unix");
  } else {
    return env.Undefined();
  }
  return Napi::Value(env, out);
}

Napi::Value SockName(Napi::Env env, int fd) {
  sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  if (fd < 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return env.Undefined();
  return AddressToJs(env, reinterpret_cast<sockaddr*>(&addr), len);
}

Napi::Value PeerName(Napi::Env env, int fd) {
  sockaddr_storage addr;
  socklen_t len = sizeof(addr);
  if (fd < 0 || getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return env.Undefined();
  return AddressToJs(env, reinterpret_cast<sockaddr*>(&addr), len);
}

bool ViewBytes(napi_env env, napi_value value, const char** data, size_t* length) {
  bool is_view = false;
  napi_is_typedarray(env, value, &is_view);
  if (is_view) {
    napi_typedarray_type type;
    size_t count, offset;
    void* base;
    napi_value ab;
    napi_get_typedarray_info(env, value, &type, &count, &base, &ab, &offset);
    size_t width = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: width = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: width = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: width = 8; break;
      default: break;
    }
    *data = static_cast<const char*>(base);
    *length = count * width;
    return true;
  }
  napi_is_dataview(env, value, &is_view);
  if (is_view) {
    size_t count, offset;
    void* base;
    napi_value ab;
    napi_get_dataview_info(env, value, &count, &base, &ab, &offset);
    *data = static_cast<const char*>(base);
    *length = count;
    return true;
  }
  return false;
}

}  // namespace hublibev
