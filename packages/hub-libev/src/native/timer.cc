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
                        InstanceAccessor("active", &Timer::JsActive, nullptr),
                        InstanceAccessor("id", &Timer::Id, nullptr)});
  }

  explicit Timer(const Napi::CallbackInfo& info) : Watcher<Timer>(info) {
    ev_init(&w_, Fired);
    ev_set_priority(&w_, Loop::kOtherPriority);
    w_.data = this;
    id_ = loop_->NextTimerId();
  }
  ~Timer() override { ev_timer_stop(loop_->ev(), &w_); }

 private:
  // start(afterMs, repeatMs): (re)arms from now.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    ArmDeferred();
    Arm(info[0].As<Napi::Number>().DoubleValue(), info[1].As<Napi::Number>().DoubleValue());
    return info.Env().Undefined();
  }

  // A re-arm JS deferred for the firing timer happens before any later start,
  // so that timers with equal delays still fire in the order they were started.
  void ArmDeferred() {
    double* slots = loop_->timer_slots();
    auto* firing = static_cast<Timer*>(loop_->firing_timer());
    if (slots == nullptr || firing == nullptr || firing == this || slots[Loop::kRearm] == 0) return;
    slots[Loop::kRearm] = 0;
    firing->Arm(slots[Loop::kRearmAfter], slots[Loop::kRearmRepeat]);
  }

  void Arm(double after, double repeat) {
    ev_timer_stop(loop_->ev(), &w_);
    // Always from the real current time: libev's cached time may be older than this call.
    loop_->FreshenEvTime();
    ev_timer_set(&w_, after / 1e3, repeat / 1e3);
    ev_timer_start(loop_->ev(), &w_);
    SetActive(true);
  }

  Napi::Value Id(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), id_); }

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
    if (!ev_is_active(w)) self->MarkStoppedKeepHeld();
    double* slots = self->loop_->timer_slots();
    if (slots != nullptr) {
      slots[Loop::kFiring] = self->id_;
      slots[Loop::kRearm] = 0;
    }
    self->loop_->set_firing_timer(self);
    self->Emit("ontimeout", 0, nullptr);
    self->loop_->set_firing_timer(nullptr);
    // Read only now: the microtasks that ran after the callback may have changed their mind.
    slots = self->loop_->timer_slots();
    if (slots != nullptr) {
      slots[Loop::kFiring] = 0;
      if (slots[Loop::kRearm] != 0 && !self->loop_->terminating()) {
        slots[Loop::kRearm] = 0;
        self->Arm(slots[Loop::kRearmAfter], slots[Loop::kRearmRepeat]);
      }
    }
    self->ReleaseIfStopped();
  }

  ev_timer w_;
  double id_ = 0;
};

void InitTimer(Napi::Env env, Napi::Object exports) { exports.Set("Timer", Timer::Define(env)); }

}  // namespace hublibev
