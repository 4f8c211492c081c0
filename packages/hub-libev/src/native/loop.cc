#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addon.h"
#include "socket.h"

namespace hublibev {

namespace {

// libuv has work: its fd is readable or its next deadline passed.
void UvWoke(struct ev_loop* loop, ev_io*, int) { static_cast<Loop*>(ev_userdata(loop))->set_uv_woke(); }
void UvDue(struct ev_loop* loop, ev_timer*, int) { static_cast<Loop*>(ev_userdata(loop))->set_uv_woke(); }

void NoopIdle(uv_idle_t*) {}

// At most this many libev iterations per libuv iteration while only the hub has work.
constexpr int kMaxEvIterations = 64;

double MonotonicMs() { return static_cast<double>(uv_hrtime()) / 1e6; }

}  // namespace

Loop::Loop(napi_env env) : env_(env) {
  napi_get_uv_event_loop(env, &uv_);
  ev_ = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV | EVFLAG_NOSIGMASK);
  if (ev_ == nullptr) ev_ = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV | EVFLAG_NOSIGMASK);
  if (ev_ == nullptr) return;  // Create() reports it
  ev_set_userdata(ev_, this);
  ev_set_loop_release_cb(ev_, LoopRelease, LoopAcquire);

  // libuv embedded in libev: its backend fd wakes libev, its next deadline is a libev timer.
  ev_io_init(&uvio_, UvWoke, uv_backend_fd(uv_), EV_READ);
  ev_io_start(ev_, &uvio_);
  ev_init(&uvtimer_, UvDue);
  ev_init(&flusher_, FlushCb);
  ev_set_priority(&flusher_, kFlushPriority);

  uv_prepare_init(uv_, &prep_);
  prep_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&prep_));
  uv_idle_init(uv_, &idle_);
  idle_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&idle_));

  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &resource_);
  napi_create_string_utf8(env, "HubCallback", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &actx_);
  napi_add_env_cleanup_hook(env, CleanupHook, this);
  now_ms_ = MonotonicMs();
  now_uv_turn_ = uv_now(uv_);
  spare_fd_ = open("/", O_RDONLY | O_CLOEXEC);
}

Loop::~Loop() {
  if (spare_fd_ >= 0) ::close(spare_fd_);
  if (ev_ != nullptr) ev_loop_destroy(ev_);
}

bool Loop::DrainBacklog(int listen_fd) {
  if (spare_fd_ < 0) return false;
  ::close(spare_fd_);
  spare_fd_ = -1;
  for (;;) {
    int fd = AcceptSocket(listen_fd);
    if (fd >= 0) {
      ::close(fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    break;
  }
  spare_fd_ = open("/", O_RDONLY | O_CLOEXEC);
  return true;
}

Loop* Loop::Create(napi_env env) {
  Loop* loop = new Loop(env);
  if (loop->ev_ == nullptr) {
    delete loop;
    return nullptr;
  }
  napi_set_instance_data(env, loop, nullptr, nullptr);
  return loop;
}

Loop* Loop::From(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<Loop*>(data);
}

void Loop::Release() {
  if (--refs_ == 0) delete this;
}

void Loop::Account(int dactive, int dref) {
  nactive_ += dactive;
  nref_ += dref;
  if (dead_) return;
  auto* prep = reinterpret_cast<uv_handle_t*>(&prep_);
  if (nactive_ > 0) {
    if (!uv_is_active(prep)) uv_prepare_start(&prep_, PrepareCb);
  } else {
    uv_prepare_stop(&prep_);
    uv_idle_stop(&idle_);
  }
  if (nref_ > 0) {
    uv_ref(prep);
  } else {
    uv_unref(prep);
  }
}

int Loop::BackendTimeout() {
#if UV_VERSION_HEX >= 0x012E00
  if (naive_) {
    // Test-only: pretend libuv has no fds waiting to be registered, which
    // re-opens the watcher_queue hole (LIBEV.md pitfall 1) so tests can show it.
    struct uv__queue* q = &uv_->watcher_queue;
    struct uv__queue *next = q->next, *prev = q->prev;
    q->next = q->prev = q;
    int to = uv_backend_timeout(uv_);
    q->next = next;
    q->prev = prev;
    return to;
  }
#endif
  return uv_backend_timeout(uv_);
}

void Loop::PrepareCb(uv_prepare_t* handle) {
  Loop* h = static_cast<Loop*>(handle->data);
  if (h->in_ev_ || h->dead_ || h->terminating_) return;
  // Our own idle handle would make libuv report timeout 0 and turn this into a busy loop.
  uv_idle_stop(&h->idle_);
  h->in_ev_ = true;
  // Run libev iterations until libuv needs its turn: its fd woke, its deadline
  // passed, or it has work that must not wait (timeout 0: pending callbacks,
  // setImmediate, closing handles, fds not yet registered with epoll). While
  // only hub watchers have events, this saves a libuv iteration per event.
  for (int i = 0; i < kMaxEvIterations; i++) {
    // libuv computes its timeout from its cached time, which our iterations make stale.
    if (i > 0) uv_update_time(h->uv_);
    int to = h->BackendTimeout();
    h->uv_woke_ = false;
    if (to == 0) {
      ev_run(h->ev_, EVRUN_NOWAIT);
      break;
    }
    if (to > 0) {
      ev_now_update(h->ev_);
      ev_timer_set(&h->uvtimer_, to / 1e3, 0.);
      ev_timer_start(h->ev_, &h->uvtimer_);
    }
    ev_run(h->ev_, EVRUN_ONCE);
    ev_timer_stop(h->ev_, &h->uvtimer_);
    if (h->uv_woke_ || h->naive_ || h->nactive_ == 0 || h->dead_ || h->terminating_) break;
  }
  h->in_ev_ = false;
  // libuv's own poll in this iteration must not block: libev already waited.
  if (h->nactive_ > 0 && !h->dead_) uv_idle_start(&h->idle_, NoopIdle);
}

void Loop::LoopRelease(struct ev_loop* loop) noexcept {
  Loop* h = static_cast<Loop*>(ev_userdata(loop));
  h->release_at_ = uv_hrtime();
}

void Loop::LoopAcquire(struct ev_loop* loop) noexcept {
  Loop* h = static_cast<Loop*>(ev_userdata(loop));
  uint64_t t = uv_hrtime();
  if (h->release_at_ != 0) h->idle_ns_ += t - h->release_at_;
  h->release_at_ = 0;
  h->now_ms_ = static_cast<double>(t) / 1e6;
}

double Loop::NowMs() {
  if (!in_ev_ && !dead_) {
    // Outside libev dispatch the hub's turn is libuv's turn.
    uint64_t turn = uv_now(uv_);
    if (turn != now_uv_turn_) {
      now_uv_turn_ = turn;
      now_ms_ = MonotonicMs();
    }
  }
  return now_ms_;
}

void Loop::UpdateNow() {
  now_ms_ = MonotonicMs();
  ev_now_update(ev_);
}

napi_value Loop::Call(napi_value recv, napi_value fn, size_t argc, const napi_value* argv) {
  if (terminating_) return nullptr;
  napi_value result = nullptr;
  napi_status s = napi_make_callback(env_, actx_, recv, fn, argc, argv, &result);
  if (s == napi_ok) return result;
  bool pending = false;
  napi_value err = nullptr;
  napi_is_exception_pending(env_, &pending);
  if (pending) napi_get_and_clear_last_exception(env_, &err);
  if (dead_ || !CanRunJs()) {
    // The environment is being terminated: stop dispatching, touch no more JS.
    terminating_ = true;
    ev_break(ev_, EVBREAK_ALL);
    return nullptr;
  }
  // A JS exception escaped (the JS layer catches user errors, so this is a bug
  // there): report it like Node would instead of leaving it pending (pitfall 8).
  if (err != nullptr) napi_fatal_exception(env_, err);
  return nullptr;
}

napi_value Loop::Key(const char* name) {
  napi_value keys = nullptr;
  if (keys_ref_ != nullptr) napi_get_reference_value(env_, keys_ref_, &keys);
  napi_value key = nullptr;
  for (int i = 0; i < nkeys_; i++) {
    // The pointer identifies the literal; the same text at another call site gets its own slot.
    if (key_names_[i] == name) {
      if (keys != nullptr && napi_get_element(env_, keys, static_cast<uint32_t>(i), &key) == napi_ok) return key;
      break;
    }
  }
  if (napi_create_string_utf8(env_, name, NAPI_AUTO_LENGTH, &key) != napi_ok) return nullptr;
  // V8 finds properties by internalized strings, and a string made from UTF-8
  // is not one. An object's property names are: take the key back from an
  // object that has it.
  napi_value holder, names, internalized;
  if (napi_create_object(env_, &holder) == napi_ok && napi_set_property(env_, holder, key, key) == napi_ok &&
      napi_get_property_names(env_, holder, &names) == napi_ok &&
      napi_get_element(env_, names, 0, &internalized) == napi_ok)
    key = internalized;
  if (dead_ || nkeys_ >= kMaxKeys) return key;
  if (keys == nullptr) {
    if (napi_create_array(env_, &keys) != napi_ok || napi_create_reference(env_, keys, 1, &keys_ref_) != napi_ok) {
      keys_ref_ = nullptr;
      return key;
    }
  }
  if (napi_set_element(env_, keys, static_cast<uint32_t>(nkeys_), key) == napi_ok) key_names_[nkeys_++] = name;
  return key;
}

void Loop::SetTimerSlots(napi_value typed_array) {
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = nullptr;
  napi_value buffer;
  if (napi_get_typedarray_info(env_, typed_array, &type, &length, &data, &buffer, &offset) != napi_ok ||
      type != napi_float64_array || length < kTimerSlots)
    return;
  if (timer_slots_ref_ != nullptr) napi_delete_reference(env_, timer_slots_ref_);
  // Held strongly so the memory lives as long as this environment's loop.
  napi_create_reference(env_, typed_array, 1, &timer_slots_ref_);
  timer_slots_ = static_cast<double*>(data);
}

void Loop::SetCallbacks(napi_value fns) {
  static const char* const kNames[kSharedCallbacks] = {"onreads", "onwrite", "onshutdown"};
  for (int i = 0; i < kSharedCallbacks; i++) {
    napi_value fn;
    napi_valuetype type = napi_undefined;
    if (napi_get_named_property(env_, fns, kNames[i], &fn) != napi_ok || napi_typeof(env_, fn, &type) != napi_ok ||
        type != napi_function)
      continue;
    if (shared_callbacks_[i] != nullptr) napi_delete_reference(env_, shared_callbacks_[i]);
    shared_callbacks_[i] = nullptr;
    napi_create_reference(env_, fn, 1, &shared_callbacks_[i]);
  }
}

napi_value Loop::GetCallback(SharedCallback which) {
  napi_value fn = nullptr;
  if (shared_callbacks_[which] == nullptr || napi_get_reference_value(env_, shared_callbacks_[which], &fn) != napi_ok)
    return nullptr;
  return fn;
}

// An ArrayBuffer of `bytes`, held by `*ref` so that its memory lives as long as this
// environment's loop, and exported as `name`. Its memory, or nullptr if it cannot be made.
static void* ExportHeld(napi_env env, napi_value exports, const char* name, size_t bytes, napi_ref* ref) {
  napi_value buffer = nullptr;
  void* data = nullptr;
  if (napi_create_arraybuffer(env, bytes, &data, &buffer) != napi_ok) return nullptr;
  if (*ref != nullptr) napi_delete_reference(env, *ref);
  napi_create_reference(env, buffer, 1, ref);
  if (napi_set_named_property(env, exports, name, buffer) != napi_ok) return nullptr;
  return data;
}

bool Loop::ExportBuffers(napi_value exports) {
  read_slab_ = static_cast<char*>(ExportHeld(env_, exports, "readSlab", kReadSlabSize, &read_slab_ref_));
  read_batch_ = static_cast<int32_t*>(
      ExportHeld(env_, exports, "readBatch", 3 * kReadBatch * sizeof(int32_t), &read_batch_ref_));
  udp_slab_ = static_cast<char*>(ExportHeld(env_, exports, "udpSlab", kUdpSlabSize, &udp_slab_ref_));
  udp_batch_ = static_cast<int32_t*>(
      ExportHeld(env_, exports, "udpBatch", kUdpEntry * kUdpBatch * sizeof(int32_t), &udp_batch_ref_));
  return read_slab_ != nullptr && read_batch_ != nullptr && udp_slab_ != nullptr && udp_batch_ != nullptr;
}

void Loop::QueueRead(int32_t slot, ssize_t result) {
  if (nreads_ == 0) ev_feed_event(ev_, &flusher_, EV_CUSTOM);
  int32_t* entry = read_batch_ + 3 * nreads_++;
  entry[0] = slot;
  entry[1] = static_cast<int32_t>(read_used_);
  entry[2] = static_cast<int32_t>(result);
  if (result > 0) read_used_ += static_cast<size_t>(result);
}

void Loop::FlushReads() {
  if (nreads_ == 0) return;
  if (!terminating_ && !dead_) {
    napi_handle_scope scope;
    if (napi_open_handle_scope(env_, &scope) == napi_ok) {
      napi_value fn = GetCallback(kOnReads);
      napi_value recv, count;
      if (fn != nullptr && napi_get_reference_value(env_, resource_, &recv) == napi_ok &&
          napi_create_int32(env_, nreads_, &count) == napi_ok)
        Call(recv, fn, 1, &count);
      napi_close_handle_scope(env_, scope);
    }
  }
  // JS copied every chunk out before it returned; the slab is free again.
  nreads_ = 0;
  read_used_ = 0;
}

void Loop::FlushCb(struct ev_loop* loop, ev_idle*, int) { static_cast<Loop*>(ev_userdata(loop))->FlushReads(); }

void Loop::DropReads(int32_t slot) {
  for (int i = 0; i < nreads_; i++)
    if (read_batch_[3 * i] == slot) read_batch_[3 * i] = -1;
}

bool Loop::CanRunJs() {
  napi_value resource;
  bool has = false;
  if (napi_get_reference_value(env_, resource_, &resource) != napi_ok || resource == nullptr) return false;
  // Any call that may run JS fails while the environment cannot run it.
  return napi_has_named_property(env_, resource, "x", &has) == napi_ok;
}

void Loop::CleanupHook(void* arg) { static_cast<Loop*>(arg)->Cleanup(); }

void Loop::Cleanup() {
  dead_ = true;
  ev_io_stop(ev_, &uvio_);
  ev_timer_stop(ev_, &uvtimer_);
  Retain();
  uv_close(reinterpret_cast<uv_handle_t*>(&prep_), HandleClosed);
  Retain();
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), HandleClosed);
  napi_async_destroy(env_, actx_);
  napi_delete_reference(env_, resource_);
  if (keys_ref_ != nullptr) napi_delete_reference(env_, keys_ref_);
  keys_ref_ = nullptr;
  if (timer_slots_ref_ != nullptr) napi_delete_reference(env_, timer_slots_ref_);
  timer_slots_ref_ = nullptr;
  timer_slots_ = nullptr;
  for (napi_ref& ref : shared_callbacks_) {
    if (ref != nullptr) napi_delete_reference(env_, ref);
    ref = nullptr;
  }
  for (napi_ref* ref : {&read_slab_ref_, &read_batch_ref_, &udp_slab_ref_, &udp_batch_ref_}) {
    if (*ref != nullptr) napi_delete_reference(env_, *ref);
    *ref = nullptr;
  }
  udp_slab_ = nullptr;
  udp_batch_ = nullptr;
  read_slab_ = nullptr;
  read_batch_ = nullptr;
  nreads_ = 0;
  read_used_ = 0;
  nkeys_ = 0;
  Release();  // the environment's reference
}

void Loop::HandleClosed(uv_handle_t* handle) { static_cast<Loop*>(handle->data)->Release(); }

}  // namespace hublibev

// The loop as seen from JS: time, idle time, counts and the test-only naive switch.
namespace hublibev {

namespace {

Napi::Value JsNow(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Loop::From(info.Env())->NowMs());
}
Napi::Value JsUpdateNow(const Napi::CallbackInfo& info) {
  Loop::From(info.Env())->UpdateNow();
  return info.Env().Undefined();
}
Napi::Value JsIdleTime(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Loop::From(info.Env())->IdleMs());
}
Napi::Value JsCounts(const Napi::CallbackInfo& info) {
  Loop* loop = Loop::From(info.Env());
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("active", loop->active());
  out.Set("referenced", loop->referenced());
  return out;
}
Napi::Value JsShareTimerSlots(const Napi::CallbackInfo& info) {
  Loop::From(info.Env())->SetTimerSlots(info[0]);
  return info.Env().Undefined();
}
Napi::Value JsSetCallbacks(const Napi::CallbackInfo& info) {
  if (info[0].IsObject()) Loop::From(info.Env())->SetCallbacks(info[0]);
  return info.Env().Undefined();
}
Napi::Value JsSetNaive(const Napi::CallbackInfo& info) {
  Loop::From(info.Env())->set_naive(info[0].ToBoolean());
  return info.Env().Undefined();
}

}  // namespace

void InitLoopBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("now", Napi::Function::New(env, JsNow, "now"));
  exports.Set("updateNow", Napi::Function::New(env, JsUpdateNow, "updateNow"));
  exports.Set("idleTime", Napi::Function::New(env, JsIdleTime, "idleTime"));
  exports.Set("counts", Napi::Function::New(env, JsCounts, "counts"));
  exports.Set("setNaive", Napi::Function::New(env, JsSetNaive, "setNaive"));
  exports.Set("shareTimerSlots", Napi::Function::New(env, JsShareTimerSlots, "shareTimerSlots"));
  exports.Set("setCallbacks", Napi::Function::New(env, JsSetCallbacks, "setCallbacks"));
  const char* backend = "other";
  switch (ev_backend(Loop::From(env)->ev())) {
    case EVBACKEND_EPOLL: backend = "epoll"; break;
    case EVBACKEND_KQUEUE: backend = "kqueue"; break;
    case EVBACKEND_POLL: backend = "poll"; break;
    case EVBACKEND_SELECT: backend = "select"; break;
    default: break;
  }
  exports.Set("backend", Napi::String::New(env, backend));
  if (!Loop::From(env)->ExportBuffers(exports)) {
    Napi::Error::New(env, "hub-libev: cannot allocate the read and datagram buffers").ThrowAsJavaScriptException();
    return;
  }
}

}  // namespace hublibev
