// A bound UDP socket: recvfrom in a loop on readiness into the loop's
// datagram slab, handed to JS in batches through `onmessages(count)` (see
// Loop::kUdpEntry); sendto at once, queued (copied) on EAGAIN with
// completions reported one by one through `onsend(status)`.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <vector>

#include "addon.h"
#include "socket.h"
#include "watcher.h"

namespace hublibev {


class Udp : public Watcher<Udp> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Udp",
                       {InstanceMethod("bind", &Udp::Bind), InstanceMethod("recvStart", &Udp::RecvStart),
                        InstanceMethod("recvStop", &Udp::RecvStop), InstanceMethod("send", &Udp::Send),
                        InstanceMethod("close", &Udp::Close), InstanceMethod("address", &Udp::Address),
                        InstanceMethod("ref", &Udp::JsRef), InstanceMethod("unref", &Udp::JsUnref),
                        InstanceAccessor("active", &Udp::JsActive, nullptr)});
  }

  explicit Udp(const Napi::CallbackInfo& info) : Watcher<Udp>(info) {
    ev_init(&rio_, Readable);
    ev_set_priority(&rio_, Loop::kOtherPriority);
    ev_init(&wio_, Writable);
    ev_set_priority(&wio_, Loop::kOtherPriority);
    rio_.data = wio_.data = this;
  }
  ~Udp() override { CloseFd(); }

 private:
  void CloseFd() {
    ev_io_stop(loop_->ev(), &rio_);
    ev_io_stop(loop_->ev(), &wio_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  void UpdateActive() { SetActive(fd_ >= 0 && (receiving_ || !queue_.empty())); }

  // bind(host, port): 0 or -errno.
  Napi::Value Bind(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    sockaddr_storage addr;
    socklen_t len;
    int rc = IpAddress(info[0].As<Napi::String>(), info[1].As<Napi::Number>().Int32Value(), &addr, &len);
    if (rc < 0) return Status(env, rc);
    int fd = OpenSocket(addr.ss_family, SOCK_DGRAM);
    if (fd < 0) return Status(env, -errno);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
      int err = -errno;
      ::close(fd);
      return Status(env, err);
    }
    fd_ = fd;
    ev_io_set(&rio_, fd_, EV_READ);
    ev_io_set(&wio_, fd_, EV_WRITE);
    return Status(env, 0);
  }

  Napi::Value RecvStart(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) {
      receiving_ = true;
      ev_io_start(loop_->ev(), &rio_);
      UpdateActive();
    }
    return info.Env().Undefined();
  }

  Napi::Value RecvStop(const Napi::CallbackInfo& info) {
    receiving_ = false;
    ev_io_stop(loop_->ev(), &rio_);
    UpdateActive();
    return info.Env().Undefined();
  }

  // send(data, host, port): 0 sent, 1 queued (onsend follows), -errno failed.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) return Status(env, -EBADF);
    const char* data = nullptr;
    size_t len = 0;
    ViewBytes(info[0], &data, &len);
    Req req;
    int rc = IpAddress(info[1].As<Napi::String>(), info[2].As<Napi::Number>().Int32Value(), &req.to, &req.tolen);
    if (rc < 0) return Status(env, rc);
    if (queue_.empty()) {
      ssize_t n;
      do {
        n = sendto(fd_, data, len, MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&req.to), req.tolen);
      } while (n < 0 && errno == EINTR);
      if (n >= 0) return Status(env, 0);
      if (errno != EAGAIN && errno != EWOULDBLOCK) return Status(env, -errno);
    }
    req.data.assign(data, data + len);
    queue_.push_back(std::move(req));
    if (!ev_is_active(&wio_)) ev_io_start(loop_->ev(), &wio_);
    UpdateActive();
    return Status(env, 1);
  }

  void Flush() {
    Napi::Env env = Env();
    while (!queue_.empty() && fd_ >= 0) {
      Req& r = queue_.front();
      ssize_t n = sendto(fd_, r.data.data(), r.data.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&r.to), r.tolen);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      int status = n < 0 ? -errno : 0;
      queue_.pop_front();
      if (queue_.empty()) ev_io_stop(loop_->ev(), &wio_);
      UpdateActive();
      Napi::HandleScope scope(env);
      napi_value arg = Napi::Number::New(env, status);
      Emit("onsend", 1, &arg);
      if (loop_->terminating()) return;
    }
  }

  // Up to Loop::kUdpBatch datagrams per readiness, in as many calls as the slab needs.
  void Receive() {
    char* slab = loop_->udp_slab();
    int32_t* batch = loop_->udp_batch();
    if (slab == nullptr || batch == nullptr) return;
    size_t used = 0;
    int count = 0;
    for (int i = 0; i < Loop::kUdpBatch && receiving_ && fd_ >= 0; i++) {
      if (used + Loop::kDatagramRoom > Loop::kUdpSlabSize) {
        if (!HandOver(count)) return;
        used = 0;
        count = 0;
        if (!receiving_ || fd_ < 0) return;
      }
      sockaddr_storage from;
      socklen_t fromlen = sizeof(from);
      ssize_t n = recvfrom(fd_, slab + used, Loop::kDatagramMax, 0, reinterpret_cast<sockaddr*>(&from), &fromlen);
      if (n < 0) {
        if (errno == EINTR) continue;
        // EAGAIN ends the batch; ICMP errors on an unconnected socket have nowhere to go.
        break;
      }
      int32_t* entry = batch + Loop::kUdpEntry * count;
      entry[0] = static_cast<int32_t>(used);
      entry[1] = static_cast<int32_t>(n);
      used += static_cast<size_t>(n);
      if (from.ss_family == AF_INET) {
        auto* v4 = reinterpret_cast<const sockaddr_in*>(&from);
        entry[2] = 4;
        entry[3] = ntohs(v4->sin_port);
        std::memcpy(&entry[4], &v4->sin_addr, 4);
      } else if (from.ss_family == AF_INET6) {
        auto* v6 = reinterpret_cast<const sockaddr_in6*>(&from);
        entry[2] = 6;
        entry[3] = ntohs(v6->sin6_port);
        // The text after the payload: kDatagramRoom leaves room for it.
        if (inet_ntop(AF_INET6, &v6->sin6_addr, slab + used, INET6_ADDRSTRLEN) == nullptr) continue;
        size_t len = std::strlen(slab + used);
        entry[4] = static_cast<int32_t>(used);
        entry[5] = static_cast<int32_t>(len);
        used += len;
      } else {
        continue;  // a bound IPv4 or IPv6 socket gets nothing else
      }
      count++;
    }
    if (count > 0) HandOver(count);
  }

  // `onmessages(count)`; false when the loop is being torn down.
  bool HandOver(int count) {
    Napi::HandleScope scope(Env());
    napi_value arg = Napi::Number::New(Env(), count);
    Emit("onmessages", 1, &arg);
    return !loop_->terminating();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseFd();
    receiving_ = false;
    queue_.clear();
    UpdateActive();
    return info.Env().Undefined();
  }

  Napi::Value Address(const Napi::CallbackInfo& info) { return SockName(info.Env(), fd_); }

  static void Readable(struct ev_loop*, ev_io* w, int) {
    Udp* self = static_cast<Udp*>(w->data);
    if (self->loop_->terminating()) return;
    Napi::HandleScope scope(self->Env());
    napi_value keep = self->Value();
    (void)keep;
    self->Receive();
  }

  static void Writable(struct ev_loop*, ev_io* w, int) {
    Udp* self = static_cast<Udp*>(w->data);
    if (self->loop_->terminating()) return;
    Napi::HandleScope scope(self->Env());
    napi_value keep = self->Value();
    (void)keep;
    self->Flush();
  }

  struct Req {
    std::vector<char> data;
    sockaddr_storage to;
    socklen_t tolen;
  };

  int fd_ = -1;
  bool receiving_ = false;
  ev_io rio_;
  ev_io wio_;
  std::deque<Req> queue_;
};

void InitUdp(Napi::Env env, Napi::Object exports) { exports.Set("Udp", Udp::Define(env)); }

}  // namespace hublibev
