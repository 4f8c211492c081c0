// The per-environment libev loop and its integration into Node's libuv loop
// (design "P" in shared/LIBEV.md): libev blocks inside a uv_prepare while the
// hub has active watchers, with libuv's backend fd and next timeout embedded.
#pragma once

#include <ev.h>
#include <napi.h>
#include <uv.h>

#include <sys/types.h>

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
  enum SharedCallback { kOnReads = 0, kOnWrite = 1, kOnShutdown = 2, kSharedCallbacks = 3 };
  void SetCallbacks(napi_value fns);
  // The function, or nullptr when none was set.
  napi_value GetCallback(SharedCallback which);

  // Reads are handed to JS in batches: a stream's read lands in the read slab
  // (a JS ArrayBuffer made once per environment, exported as `readSlab`) after
  // the reads before it, and is listed in the read batch (an Int32Array,
  // `readBatch`: slot, offset, result per read). One call, `onreads(count)`,
  // hands the whole batch to JS, which copies each chunk out, at the end of
  // the reads of a wakeup and before any other callback into JS. A call into JS
  // per read cost as much as the JS it ran (the call, its callback scope and a
  // microtask checkpoint each); a batch pays that once per wakeup.
  //
  // A read's result is its byte count, 0 at end of stream or -errno.
  static constexpr size_t kReadMax = 64 * 1024;  // bytes one read(2) may take
  static constexpr size_t kReadSlabSize = 4 * kReadMax;
  static constexpr int kReadBatch = 1024;
  // libev runs a wakeup's pending watchers by priority, highest first:
  // hub.callback()s (idle.cc), stream reads, the flush of their batch, then
  // every other watcher. So a callback that comes after a read sees it
  // delivered, and a watcher that JS stopped meanwhile (a timeout the data
  // made moot) does not fire, as without batching. (An ev_idle runs only
  // while nothing of its priority or above is pending: reads must stay below
  // the callbacks, or a stream of reads would hold callbacks back.)
  static constexpr int kCallbackPriority = EV_MAXPRI;
  static constexpr int kReadPriority = EV_MAXPRI - 1;
  static constexpr int kFlushPriority = EV_MAXPRI - 2;
  static constexpr int kOtherPriority = EV_MAXPRI - 3;
  static_assert(kOtherPriority >= EV_MINPRI, "libev has too few priorities");
  // Makes the read slab and batch and the datagram slab and batch below, held for this
  // environment's lifetime, and exports them (`readSlab`, `readBatch`, `udpSlab`,
  // `udpBatch`); false if one cannot be made.
  bool ExportBuffers(napi_value exports);

  // Datagrams are handed to JS in batches too, per socket (udp.cc): those one
  // readiness of a UDP socket reads land in the datagram slab (`udpSlab`),
  // each listed in the datagram batch (`udpBatch`, kUdpEntry int32s per
  // datagram: offset, length, family 4 or 6, port, then the IPv4 address's 4
  // bytes, or the offset and length of the IPv6 address's text in the slab),
  // and one `onmessages(count)` call hands them over. JS copies each out
  // before it returns, so every socket reuses the same memory.
  static constexpr size_t kDatagramMax = 64 * 1024;  // more than any UDP payload
  static constexpr size_t kDatagramRoom = kDatagramMax + 64;  // and its sender's address as text
  static constexpr size_t kUdpSlabSize = 4 * kDatagramRoom;
  static constexpr int kUdpBatch = 64;
  static constexpr int kUdpEntry = 6;
  char* udp_slab() const { return udp_slab_; }
  int32_t* udp_batch() const { return udp_batch_; }
  // Room for one more read: kReadMax bytes of slab and an entry.
  bool HasReadSpace() const {
    return read_slab_ != nullptr && read_batch_ != nullptr && read_used_ + kReadMax <= kReadSlabSize &&
           nreads_ < kReadBatch;
  }
  // Where the next read lands (only while HasReadSpace()).
  char* ReadSpace() const { return read_slab_ + read_used_; }
  // List a read done into ReadSpace() by the stream in `slot` (only while HasReadSpace()).
  void QueueRead(int32_t slot, ssize_t result);
  // Hand the batch to JS now. Only from libev callbacks, never while JS runs:
  // the flush watcher after a wakeup's reads, or a read that needs room.
  void FlushReads();
  // Forget the listed reads of a stream that closed (JS may give its slot to another stream).
  void DropReads(int32_t slot);

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
  static void FlushCb(struct ev_loop* loop, ev_idle* w, int revents);
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
  // Never started: fed an event with the first read of a batch (see kFlushPriority).
  ev_idle flusher_;
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
  int32_t* read_batch_ = nullptr;
  napi_ref read_batch_ref_ = nullptr;
  size_t read_used_ = 0;
  int nreads_ = 0;
  char* udp_slab_ = nullptr;
  napi_ref udp_slab_ref_ = nullptr;
  int32_t* udp_batch_ = nullptr;
  napi_ref udp_batch_ref_ = nullptr;
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
