// A connected byte stream (TCP or unix) on a non-blocking fd, driven by ev_io.
// Reads land in the loop's read slab and are listed in its read batch; JS copies
// each chunk out when the batch is handed over (Loop::FlushReads).
// Writes go to the kernel at once (send for one buffer, sendmsg for several) and
// are queued (copied) on EAGAIN; JS keeps the callbacks and learns completions
// through `onwrite(count, status)`.
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "addon.h"
#include "socket.h"
#include "watcher.h"

namespace hublibev {

namespace {
constexpr int kReadsPerWakeup = 8;
constexpr int kMaxIov = 64;

// One buffer goes through send(): the kernel's path for it is shorter than sendmsg's.
ssize_t SendIov(int fd, iovec* iov, int cnt) {
  if (cnt == 1) return send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
  msghdr msg = {};
  msg.msg_iov = iov;
  msg.msg_iovlen = cnt;
  return sendmsg(fd, &msg, MSG_NOSIGNAL);
}
}  // namespace

class Stream : public Watcher<Stream> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Stream",
                       {InstanceMethod("connect", &Stream::Connect), InstanceMethod("readStart", &Stream::ReadStart),
                        InstanceMethod("readStop", &Stream::ReadStop), InstanceMethod("write", &Stream::Write),
                        InstanceMethod("shutdown", &Stream::Shutdown), InstanceMethod("close", &Stream::Close),
                        InstanceMethod("setNoDelay", &Stream::SetNoDelay),
                        InstanceMethod("setKeepAlive", &Stream::SetKeepAlive),
                        InstanceMethod("localAddress", &Stream::LocalAddress),
                        InstanceMethod("remoteAddress", &Stream::RemoteAddress),
                        InstanceMethod("setSlot", &Stream::SetSlot),
                        InstanceMethod("ref", &Stream::JsRef), InstanceMethod("unref", &Stream::JsUnref),
                        InstanceAccessor("active", &Stream::JsActive, nullptr),
                        InstanceAccessor("queued", &Stream::Queued, nullptr)});
  }

  // new Stream() for a connect, or new Stream(fd) for an accepted socket.
  explicit Stream(const Napi::CallbackInfo& info) : Watcher<Stream>(info) {
    if (info.Length() > 0 && info[0].IsNumber()) fd_ = info[0].As<Napi::Number>().Int32Value();
    ev_init(&rio_, Readable);
    // Reads run before every other watcher of a wakeup and are handed to JS in one batch
    // after them (Loop::QueueRead): whatever JS does with them, later callbacks see done.
    ev_set_priority(&rio_, Loop::kReadPriority);
    ev_init(&wio_, Writable);
    ev_set_priority(&wio_, Loop::kOtherPriority);
    rio_.data = wio_.data = this;
    if (fd_ >= 0) Arm();
  }
  ~Stream() override { CloseFd(); }

 private:
  void Arm() {
    ev_io_set(&rio_, fd_, EV_READ);
    ev_io_set(&wio_, fd_, EV_WRITE);
  }

  void UpdateActive() {
    SetActive(fd_ >= 0 && (connecting_ || reading_ || !queue_.empty() || shutdown_pending_));
  }

  void UpdateWriteWatcher() {
    bool want = fd_ >= 0 && (connecting_ || !queue_.empty());
    if (want && !ev_is_active(&wio_)) ev_io_start(loop_->ev(), &wio_);
    if (!want && ev_is_active(&wio_)) ev_io_stop(loop_->ev(), &wio_);
  }

  void CloseFd() {
    if (fd_ < 0) return;
    loop_->DropReads(slot_);
    ev_io_stop(loop_->ev(), &rio_);
    ev_io_stop(loop_->ev(), &wio_);
    ::close(fd_);
    fd_ = -1;
  }

  // connect('unix', path) or connect('tcp', host, port): 0 connected, 1 in progress, -errno failed.
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string kind = info[0].As<Napi::String>();
    sockaddr_storage addr;
    socklen_t len;
    int rc = kind == "unix" ? UnixAddress(info[1].As<Napi::String>(), &addr, &len)
                            : IpAddress(info[1].As<Napi::String>(), info[2].As<Napi::Number>().Int32Value(), &addr, &len);
    if (rc < 0) return Status(env, rc);
    fd_ = OpenSocket(addr.ss_family, SOCK_STREAM);
    if (fd_ < 0) return Status(env, -errno);
    Arm();
    if (addr.ss_family != AF_UNIX) {
      int one = 1;
      setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    do {
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), len);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) return Status(env, 0);
    if (errno == EINPROGRESS || errno == EAGAIN) {
      connecting_ = true;
      UpdateWriteWatcher();
      UpdateActive();
      return Status(env, 1);
    }
    int err = -errno;
    CloseFd();
    return Status(env, err);
  }

  void FinishConnect() {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    connecting_ = false;
    UpdateWriteWatcher();
    UpdateActive();
    Napi::Env env = Env();
    napi_value arg = Napi::Number::New(env, -err);
    Emit("onconnect", 1, &arg);
  }

  Napi::Value ReadStart(const Napi::CallbackInfo& info) {
    if (fd_ >= 0 && !read_done_) {
      reading_ = true;
      if (!ev_is_active(&rio_)) ev_io_start(loop_->ev(), &rio_);
      UpdateActive();
    }
    return info.Env().Undefined();
  }

  Napi::Value ReadStop(const Napi::CallbackInfo& info) {
    reading_ = false;
    ev_io_stop(loop_->ev(), &rio_);
    UpdateActive();
    return info.Env().Undefined();
  }

  // setSlot(n): the number JS knows this stream by in the read batch.
  Napi::Value SetSlot(const Napi::CallbackInfo& info) {
    slot_ = info[0].As<Napi::Number>().Int32Value();
    return info.Env().Undefined();
  }

  void DoRead() {
    for (int i = 0; i < kReadsPerWakeup; i++) {
      // JS gets what was read so far before this stream's next read in the same
      // wakeup (it may stop reading: backpressure), and when the slab is full.
      if (i > 0 || !loop_->HasReadSpace()) {
        Napi::HandleScope scope(Env());
        napi_value keep = Value();  // JS may close and drop this stream meanwhile
        (void)keep;
        loop_->FlushReads();
        if (!loop_->HasReadSpace()) return;  // only when the environment is going away
      }
      if (!reading_ || fd_ < 0 || loop_->terminating()) return;
      ssize_t n;
      do {
        n = ::read(fd_, loop_->ReadSpace(), Loop::kReadMax);
      } while (n < 0 && errno == EINTR);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n > 0) {
        loop_->QueueRead(slot_, n);
        if (static_cast<size_t>(n) < Loop::kReadMax) return;
        continue;
      }
      // End of stream or an error: no further reads.
      int status = n == 0 ? 0 : -errno;
      read_done_ = true;
      reading_ = false;
      ev_io_stop(loop_->ev(), &rio_);
      UpdateActive();
      loop_->QueueRead(slot_, status);
      return;
    }
  }

  // write(chunk | chunks): 0 all in the kernel, 1 queued (onwrite follows), -errno failed.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) return Status(env, -EBADF);
    // Most writes are one buffer or a few: their iovecs stay on the stack.
    iovec inline_iov[kMaxIov];
    std::vector<iovec> heap_iov;
    iovec* iov = inline_iov;
    size_t niov = 0;
    size_t total = 0;
    auto add = [&](napi_value v) {
      const char* data;
      size_t len;
      if (ViewBytes(env, v, &data, &len) && len > 0) {
        iov[niov++] = {const_cast<char*>(data), len};
        total += len;
      }
    };
    bool is_array = false;
    napi_is_array(env, info[0], &is_array);
    if (is_array) {
      napi_value arr = info[0];
      uint32_t n = 0;
      napi_get_array_length(env, arr, &n);
      if (n > static_cast<uint32_t>(kMaxIov)) {
        heap_iov.resize(n);
        iov = heap_iov.data();
      }
      for (uint32_t i = 0; i < n; i++) {
        napi_value item;
        if (napi_get_element(env, arr, i, &item) == napi_ok) add(item);
      }
    } else {
      add(info[0]);
    }
    size_t written = 0;
    if (queue_.empty() && !connecting_) {
      while (written < total) {
        // Skip the iovecs already written.
        size_t skip = written;
        size_t first = 0;
        while (first < niov && skip >= iov[first].iov_len) skip -= iov[first++].iov_len;
        iovec local[kMaxIov];
        int cnt = 0;
        for (size_t i = first; i < niov && cnt < kMaxIov; i++, cnt++) local[cnt] = iov[i];
        local[0].iov_base = static_cast<char*>(local[0].iov_base) + skip;
        local[0].iov_len -= skip;
        ssize_t n = SendIov(fd_, local, cnt);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          return Status(env, -errno);
        }
        written += static_cast<size_t>(n);
      }
      if (written == total) return Status(env, 0);
    }
    // Copy what the kernel did not take: the caller may reuse its buffers.
    std::vector<char> rest;
    rest.reserve(total - written);
    size_t skip = written;
    for (size_t i = 0; i < niov; i++) {
      const iovec& v = iov[i];
      const char* p = static_cast<const char*>(v.iov_base);
      size_t len = v.iov_len;
      if (skip >= len) {
        skip -= len;
        continue;
      }
      rest.insert(rest.end(), p + skip, p + len);
      skip = 0;
    }
    queued_bytes_ += rest.size();
    queue_.push_back(Req{std::move(rest), 0});
    UpdateWriteWatcher();
    UpdateActive();
    return Status(env, 1);
  }

  void Flush() {
    size_t done = 0;
    int status = 0;
    while (!queue_.empty()) {
      iovec iov[kMaxIov];
      int cnt = 0;
      for (auto it = queue_.begin(); it != queue_.end() && cnt < kMaxIov; ++it, ++cnt) {
        iov[cnt].iov_base = it->data.data() + it->off;
        iov[cnt].iov_len = it->data.size() - it->off;
      }
      ssize_t n = SendIov(fd_, iov, cnt);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        status = -errno;
        break;
      }
      size_t left = static_cast<size_t>(n);
      queued_bytes_ -= left;
      while (left > 0 || (!queue_.empty() && queue_.front().off == queue_.front().data.size())) {
        Req& r = queue_.front();
        size_t take = std::min(left, r.data.size() - r.off);
        r.off += take;
        left -= take;
        if (r.off == r.data.size()) {
          queue_.pop_front();
          done++;
        } else {
          break;
        }
      }
    }
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (done > 0) {
      napi_value args[2] = {Napi::Number::New(env, static_cast<double>(done)), Napi::Number::New(env, 0)};
      EmitShared(Loop::kOnWrite, 2, args);
      if (fd_ < 0) return;
    }
    if (status != 0) {
      // Every write still queued fails with the same error, in order.
      size_t failed = queue_.size();
      queue_.clear();
      queued_bytes_ = 0;
      UpdateWriteWatcher();
      UpdateActive();
      napi_value args[2] = {Napi::Number::New(env, static_cast<double>(failed)), Napi::Number::New(env, status)};
      EmitShared(Loop::kOnWrite, 2, args);
      if (fd_ < 0) return;
    }
    UpdateWriteWatcher();
    if (queue_.empty() && shutdown_pending_) FinishShutdown();
    UpdateActive();
  }

  // shutdown(): 0 done, 1 pending until the queue drains (onshutdown follows), -errno failed.
  Napi::Value Shutdown(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) return Status(env, -EBADF);
    if (!queue_.empty() || connecting_) {
      shutdown_pending_ = true;
      UpdateActive();
      return Status(env, 1);
    }
    return Status(env, ::shutdown(fd_, SHUT_WR) == 0 ? 0 : -errno);
  }

  void FinishShutdown() {
    shutdown_pending_ = false;
    int status = ::shutdown(fd_, SHUT_WR) == 0 ? 0 : -errno;
    UpdateActive();
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    napi_value arg = Napi::Number::New(env, status);
    EmitShared(Loop::kOnShutdown, 1, &arg);
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseFd();
    reading_ = connecting_ = shutdown_pending_ = false;
    queue_.clear();
    queued_bytes_ = 0;
    UpdateActive();
    return info.Env().Undefined();
  }

  Napi::Value SetNoDelay(const Napi::CallbackInfo& info) {
    int on = info[0].ToBoolean() ? 1 : 0;
    if (fd_ >= 0) setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    return info.Env().Undefined();
  }

  Napi::Value SetKeepAlive(const Napi::CallbackInfo& info) {
    int on = info[0].ToBoolean() ? 1 : 0;
    int delay = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 0;
    if (fd_ >= 0) {
      setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
#ifdef TCP_KEEPIDLE
      if (on && delay > 0) setsockopt(fd_, IPPROTO_TCP, TCP_KEEPIDLE, &delay, sizeof(delay));
#elif defined(TCP_KEEPALIVE)
      if (on && delay > 0) setsockopt(fd_, IPPROTO_TCP, TCP_KEEPALIVE, &delay, sizeof(delay));
#endif
    }
    return info.Env().Undefined();
  }

  Napi::Value LocalAddress(const Napi::CallbackInfo& info) { return SockName(info.Env(), fd_); }
  Napi::Value RemoteAddress(const Napi::CallbackInfo& info) { return PeerName(info.Env(), fd_); }
  Napi::Value Queued(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(queued_bytes_));
  }

  // Reads call no JS (see DoRead): no handle scope, no handle on the wrapper, unless a flush needs them.
  static void Readable(struct ev_loop*, ev_io* w, int) {
    Stream* self = static_cast<Stream*>(w->data);
    if (self->loop_->terminating()) return;
    self->DoRead();
  }

  static void Writable(struct ev_loop*, ev_io* w, int) {
    Stream* self = static_cast<Stream*>(w->data);
    if (self->loop_->terminating()) return;
    Napi::HandleScope scope(self->Env());
    napi_value keep = self->Value();
    (void)keep;
    if (self->connecting_) {
      self->FinishConnect();
      return;
    }
    self->Flush();
  }

  struct Req {
    std::vector<char> data;
    size_t off;
  };

  // The writes the kernel has not taken, oldest first. A std::deque allocates
  // a block and its map even when empty (about 600 bytes): this one exists
  // only while something is queued, so an idle connection costs nothing here.
  class Queue {
   public:
    bool empty() const { return !q_ || q_->empty(); }
    size_t size() const { return q_ ? q_->size() : 0; }
    void push_back(Req&& req) {
      if (!q_) q_ = std::make_unique<std::deque<Req>>();
      q_->push_back(std::move(req));
    }
    Req& front() { return q_->front(); }
    void pop_front() {
      q_->pop_front();
      if (q_->empty()) q_.reset();
    }
    void clear() { q_.reset(); }
    std::deque<Req>::iterator begin() { return q_->begin(); }
    std::deque<Req>::iterator end() { return q_->end(); }

   private:
    std::unique_ptr<std::deque<Req>> q_;
  };

  int fd_ = -1;
  int32_t slot_ = -1;
  ev_io rio_;
  ev_io wio_;
  bool reading_ = false;
  bool read_done_ = false;
  bool connecting_ = false;
  bool shutdown_pending_ = false;
  Queue queue_;
  size_t queued_bytes_ = 0;
};

void InitStream(Napi::Env env, Napi::Object exports) { exports.Set("Stream", Stream::Define(env)); }

}  // namespace hublibev
