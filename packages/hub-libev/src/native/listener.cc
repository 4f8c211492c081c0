// A listening socket: bind and listen synchronously, then accept4 in batches
// (at most kAcceptBatch per wake-up) on ev_io readiness. Accepted fds go to JS
// in one `onconnection(fds)` call; EMFILE/ENFILE go to `onerror(status)`. Out
// of descriptors, the connections waiting in the backlog are accepted and
// dropped with a spare descriptor, as libuv does, so that the level-triggered
// fd does not spin and new connections are served once descriptors are free;
// without a spare, accepting pauses briefly instead.
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "addon.h"
#include "socket.h"
#include "watcher.h"

namespace hublibev {

namespace {
constexpr int kAcceptBatch = 100;
constexpr double kBackoffSeconds = 0.1;
}  // namespace

class Listener : public Watcher<Listener> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Listener",
                       {InstanceMethod("listen", &Listener::Listen), InstanceMethod("start", &Listener::Start),
                        InstanceMethod("stop", &Listener::Stop), InstanceMethod("close", &Listener::Close),
                        InstanceMethod("address", &Listener::Address), InstanceMethod("ref", &Listener::JsRef),
                        InstanceMethod("unref", &Listener::JsUnref),
                        InstanceAccessor("active", &Listener::JsActive, nullptr)});
  }

  explicit Listener(const Napi::CallbackInfo& info) : Watcher<Listener>(info) {
    ev_init(&io_, Readable);
    ev_set_priority(&io_, Loop::kOtherPriority);
    ev_init(&backoff_, Resume);
    ev_set_priority(&backoff_, Loop::kOtherPriority);
    io_.data = backoff_.data = this;
  }
  ~Listener() override { CloseFd(); }

 private:
  void CloseFd() {
    ev_io_stop(loop_->ev(), &io_);
    ev_timer_stop(loop_->ev(), &backoff_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // listen('tcp', host, port, backlog, reusePort, ipv6Only) or listen('unix', path, 0, backlog): 0 or -errno.
  Napi::Value Listen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string kind = info[0].As<Napi::String>();
    int backlog = info[3].As<Napi::Number>().Int32Value();
    bool reuse_port = info.Length() > 4 && info[4].ToBoolean();
    bool ipv6_only = info.Length() > 5 && info[5].ToBoolean();
    sockaddr_storage addr;
    socklen_t len;
    int rc = kind == "unix" ? UnixAddress(info[1].As<Napi::String>(), &addr, &len)
                            : IpAddress(info[1].As<Napi::String>(), info[2].As<Napi::Number>().Int32Value(), &addr, &len);
    if (rc < 0) return Status(env, rc);
    int fd = OpenSocket(addr.ss_family, SOCK_STREAM);
    if (fd < 0) return Status(env, -errno);
    int one = 1;
    if (addr.ss_family != AF_UNIX) {
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        int err = -errno;
        ::close(fd);
        return Status(env, err);
      }
      if (addr.ss_family == AF_INET6) {
        int v6only = ipv6_only ? 1 : 0;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
      }
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, backlog) != 0) {
      int err = -errno;
      ::close(fd);
      return Status(env, err);
    }
    fd_ = fd;
    ev_io_set(&io_, fd_, EV_READ);
    return Status(env, 0);
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) {
      started_ = true;
      if (!ev_is_active(&backoff_)) ev_io_start(loop_->ev(), &io_);
      SetActive(true);
    }
    return info.Env().Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    started_ = false;
    ev_io_stop(loop_->ev(), &io_);
    ev_timer_stop(loop_->ev(), &backoff_);
    SetActive(false);
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    started_ = false;
    CloseFd();
    SetActive(false);
    return info.Env().Undefined();
  }

  Napi::Value Address(const Napi::CallbackInfo& info) { return SockName(info.Env(), fd_); }

  void Accept() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    std::vector<int> fds;
    int error = 0;
    for (int i = 0; i < kAcceptBatch; i++) {
      int fd = AcceptSocket(fd_);
      if (fd >= 0) {
        fds.push_back(fd);
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) error = -errno;
      break;
    }
    if (!fds.empty()) {
      // Raw N-API: these calls must fail quietly, not throw, if the environment is terminating.
      napi_value arg;
      napi_create_array_with_length(env, fds.size(), &arg);
      bool ok = true;
      for (size_t i = 0; i < fds.size(); i++) {
        napi_value fd;
        napi_create_int32(env, fds[i], &fd);
        ok = ok && napi_set_element(env, arg, static_cast<uint32_t>(i), fd) == napi_ok;
      }
      if (!ok || Emit("onconnection", 1, &arg) == nullptr) {
        // JS never saw them (terminating): do not leak the fds.
        if (!ok || loop_->terminating())
          for (int fd : fds) ::close(fd);
      }
    }
    if (error != 0 && fd_ >= 0 && started_) {
      bool out_of_fds = error == -EMFILE || error == -ENFILE;
      if ((out_of_fds && !loop_->DrainBacklog(fd_)) || error == -ENOBUFS || error == -ENOMEM) {
        ev_io_stop(loop_->ev(), &io_);
        ev_timer_set(&backoff_, kBackoffSeconds, 0.);
        loop_->FreshenEvTime();
        ev_timer_start(loop_->ev(), &backoff_);
      }
      napi_value arg = Napi::Number::New(env, error);
      Emit("onerror", 1, &arg);
    }
  }

  static void Readable(struct ev_loop*, ev_io* w, int) {
    Listener* self = static_cast<Listener*>(w->data);
    if (self->loop_->terminating()) return;
    Napi::HandleScope scope(self->Env());
    napi_value keep = self->Value();
    (void)keep;
    self->Accept();
  }

  static void Resume(struct ev_loop*, ev_timer* w, int) {
    Listener* self = static_cast<Listener*>(w->data);
    if (self->loop_->terminating()) return;
    if (self->started_ && self->fd_ >= 0) ev_io_start(self->loop_->ev(), &self->io_);
  }

  int fd_ = -1;
  bool started_ = false;
  ev_io io_;
  ev_timer backoff_;
};

void InitListener(Napi::Env env, Napi::Object exports) { exports.Set("Listener", Listener::Define(env)); }

}  // namespace hublibev
