// The per-environment libev loop and its integration into Node's libuv loop
// (design "P" in shared/LIBEV.md): libev blocks inside a uv_prepare while the
// hub has active watchers, with libuv's backend fd and next timeout embedded.
#pragma once

#include <ev.h>
#include <napi.h>
#include <uv.h>

#include <cstdint>

namespace hublibev {

class Loop {
 public:
  // Creates the loop of this environment and stores it as instance data;
  // nullptr when libev cannot create a loop.
  static Loop* Create(napi_env env);
  static Loop* From(napi_env env);

  struct ev_loop* ev() const { return ev_; }
  napi_env env() const { return env_; }
  // True once the environment is being torn down: wrappers must not touch libuv.
  bool dead() const { return dead_; }
  // True once JS can no longer run here (worker.terminate()): callbacks must return at once.
  bool terminating() const { return terminating_; }
  // True while libev dispatches callbacks (ev_now is fresh then).
  bool in_ev() const { return in_ev_; }

  // Memory is reference-counted: the environment, each live wrapper and each
  // uv_close in flight hold one reference. The last one destroys the ev_loop.
  void Retain() { ++refs_; }
  void Release();

  // Accounting of hub watchers: `active` and the referenced subset.
  void Account(int dactive, int dref);

  // Calls JS from a libev callback as a top-level callback (ticks and
  // microtasks drain afterwards); a thrown exception becomes uncaughtException.
  napi_value Call(napi_value recv, napi_value fn, size_t argc, const napi_value* argv);

  // The property key `name` (a string literal) as an internalized JS string
  // made once per environment: creating it from UTF-8 on every callback costs
  // an allocation and a hash, and a key that is not internalized costs a
  // string-table search on every lookup; callbacks look up their JS function
  // by name.
  napi_value Key(const char* name);

  // Slots shared with the JS timer layer (a Float64Array, see timer.ts): while
  // a timer's callback runs (kFiring holds its id), JS asks for that timer to
  // be re-armed by writing here instead of calling into native code, which
  // costs a JS->C++ crossing.
  enum TimerSlot { kFiring = 0, kRearm = 1, kRearmAfter = 2, kRearmRepeat = 3, kTimerSlots = 4 };
  double* timer_slots() const { return timer_slots_; }
  void SetTimerSlots(napi_value typed_array);
  // The timer whose callback runs, while it runs (timer.cc).
  void* firing_timer() const { return firing_timer_; }
  void set_firing_timer(void* timer) { firing_timer_ = timer; }
  // Timer ids name the firing timer in the kFiring slot (never 0).
  double NextTimerId() { return ++last_timer_id_; }

  // Callbacks shared by every object of a class (set once by stream.ts):
  // calling them skips the per-call lookup of a named property on the wrapper.
  enum SharedCallback { kOnRead = 0, kOnWrite = 1, kOnShutdown = 2, kSharedCallbacks = 3 };
  void SetCallbacks(napi_value fns);
  // The function, or nullptr when none was set (callers then look it up by name).
  napi_value GetCallback(SharedCallback which);

  // Where every stream of this environment reads into (a JS ArrayBuffer made
  // once, exported as `readSlab`): a read callback gets the byte count and JS
  // copies the bytes out before it returns, instead of a fresh ArrayBuffer
  // per read (a malloc, a backing store and a sweep). kReadSlabSize bytes.
  static constexpr size_t kReadSlabSize = 64 * 1024;
  char* read_slab() const { return read_slab_; }
  napi_value MakeReadSlab();

  // Before starting a timer: libev's cached time may be stale.
  void FreshenEvTime() { ev_now_update(ev_); }

  double NowMs();
  void UpdateNow();
  double IdleMs() const { return static_cast<double>(idle_ns_) / 1e6; }
  int active() const { return nactive_; }
  int referenced() const { return nref_; }
  void set_naive(bool on) { naive_ = on; }
  void set_uv_woke() { uv_woke_ = true; }
  // libuv's EMFILE trick: a spare descriptor released to accept and drop the
  // connections waiting in a backlog when the process is out of descriptors.
  // Returns false when there is no spare to use.
  bool DrainBacklog(int listen_fd);

 private:
  explicit Loop(napi_env env);
  ~Loop();
  static void PrepareCb(uv_prepare_t* handle);
  static void CleanupHook(void* arg);
  static void HandleClosed(uv_handle_t* handle);
  static void LoopRelease(struct ev_loop* loop) noexcept;
  static void LoopAcquire(struct ev_loop* loop) noexcept;
  int BackendTimeout();
  bool CanRunJs();
  void Cleanup();

  napi_env env_;
  uv_loop_t* uv_;
  struct ev_loop* ev_;
  ev_io uvio_;
  ev_timer uvtimer_;
  uv_prepare_t prep_;
  uv_idle_t idle_;
  napi_async_context actx_ = nullptr;
  napi_ref resource_ = nullptr;
  int nactive_ = 0;
  int nref_ = 0;
  int refs_ = 1;
  bool in_ev_ = false;
  bool dead_ = false;
  bool naive_ = false;
  bool terminating_ = false;
  bool uv_woke_ = false;
  int spare_fd_ = -1;
  double* timer_slots_ = nullptr;
  double last_timer_id_ = 0;
  void* firing_timer_ = nullptr;
  napi_ref timer_slots_ref_ = nullptr;
  napi_ref shared_callbacks_[kSharedCallbacks] = {};
  char* read_slab_ = nullptr;
  napi_ref read_slab_ref_ = nullptr;
  // Key(): the literals seen, and a JS array (referenced: N-API before
  // version 10 refers to objects only, not to strings) holding their keys.
  static constexpr int kMaxKeys = 32;
  const char* key_names_[kMaxKeys] = {};
  napi_ref keys_ref_ = nullptr;
  int nkeys_ = 0;
  uint64_t idle_ns_ = 0;
  uint64_t release_at_ = 0;
  double now_ms_ = 0;
  uint64_t now_uv_turn_ = 0;
};

}  // namespace hublibev
