// ev_timer behind the hub's Timer. Times cross the boundary in milliseconds.
#include "addon.h"
#include "watcher.h"

namespace hublibev {

class Timer : public Watcher<Timer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Timer",
                       {InstanceMethod("start", &Timer::Start), InstanceMethod("stop", &Timer::Stop),
                        InstanceMethod("ref", &Timer::JsRef), InstanceMethod("unref", &Timer::JsUnref),
                        InstanceAccessor("active", &Timer::JsActive, nullptr)});
  }

  explicit Timer(const Napi::CallbackInfo& info) : Watcher<Timer>(info) {
    ev_init(&w_, Fired);
    w_.data = this;
  }
  ~Timer() override { ev_timer_stop(loop_->ev(), &w_); }

 private:
  // start(afterMs, repeatMs): (re)arms from now.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    double after = info[0].As<Napi::Number>().DoubleValue();
    double repeat = info[1].As<Napi::Number>().DoubleValue();
    ev_timer_stop(loop_->ev(), &w_);
    // Always from the real current time: libev's cached time may be older than this call.
    loop_->FreshenEvTime();
    ev_timer_set(&w_, after / 1e3, repeat / 1e3);
    ev_timer_start(loop_->ev(), &w_);
    SetActive(true);
    return info.Env().Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    ev_timer_stop(loop_->ev(), &w_);
    SetActive(false);
    return info.Env().Undefined();
  }

  static void Fired(struct ev_loop*, ev_timer* w, int) {
    Timer* self = static_cast<Timer*>(w->data);
    if (self->loop_->terminating()) return;
    Napi::HandleScope scope(self->Env());
    napi_value keep = self->Value();
    (void)keep;
    // A one-shot timer is already inactive: account first, so JS may restart it.
    if (!ev_is_active(w)) self->SetActive(false);
    self->Emit("ontimeout", 0, nullptr);
  }

  ev_timer w_;
};

void InitTimer(Napi::Env env, Napi::Object exports) { exports.Set("Timer", Timer::Define(env)); }

}  // namespace hublibev
