// The primitive under hub.callback(): an ev_idle at the highest priority keeps
// libev from blocking while callbacks are queued and runs once per iteration,
// even when I/O is pending. JS drains its FIFO from `onidle`, one callback per
// call so that microtasks run between callbacks as they do between Node's
// setImmediate callbacks; `onidle` returns true while the current batch has more.
#include "addon.h"
#include "watcher.h"

namespace hublibev {

class Idle : public Watcher<Idle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Idle",
                       {InstanceMethod("start", &Idle::Start), InstanceMethod("stop", &Idle::Stop),
                        InstanceMethod("ref", &Idle::JsRef), InstanceMethod("unref", &Idle::JsUnref),
                        InstanceAccessor("active", &Idle::JsActive, nullptr)});
  }

  explicit Idle(const Napi::CallbackInfo& info) : Watcher<Idle>(info) {
    ev_idle_init(&w_, Fired);
    ev_set_priority(&w_, Loop::kCallbackPriority);
    w_.data = this;
  }
  ~Idle() override { ev_idle_stop(loop_->ev(), &w_); }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    ev_idle_start(loop_->ev(), &w_);
    SetActive(true);
    return info.Env().Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    ev_idle_stop(loop_->ev(), &w_);
    SetActive(false);
    return info.Env().Undefined();
  }

  static void Fired(struct ev_loop*, ev_idle* w, int) {
    Idle* self = static_cast<Idle*>(w->data);
    if (self->loop_->terminating()) return;
    napi_env env = self->Env();
    Napi::HandleScope outer(env);
    napi_value keep = self->Value();
    (void)keep;
    for (;;) {
      Napi::HandleScope scope(env);
      napi_value more = self->Emit("onidle", 0, nullptr);
      bool again = false;
      if (more == nullptr || napi_get_value_bool(env, more, &again) != napi_ok || !again) break;
      if (!self->active_ || self->loop_->dead()) break;
    }
  }

  ev_idle w_;
};

void InitIdle(Napi::Env env, Napi::Object exports) { exports.Set("Idle", Idle::Define(env)); }

}  // namespace hublibev
