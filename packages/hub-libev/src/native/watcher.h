// Base of every native object: the loop reference, active/ref accounting,
// and the rule that an active wrapper is strongly held (LIBEV.md pitfall 9).
#pragma once

#include <napi.h>

#include "loop.h"

namespace hublibev {

template <class T>
class Watcher : public Napi::ObjectWrap<T> {
 public:
  explicit Watcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<T>(info), loop_(Loop::From(info.Env())) {
    loop_->Retain();
  }
  ~Watcher() override {
    if (active_) loop_->Account(-1, refd_ ? -1 : 0);
    loop_->Release();
  }

  Napi::Value JsRef(const Napi::CallbackInfo& info) {
    SetRef(true);
    return info.Env().Undefined();
  }
  Napi::Value JsUnref(const Napi::CallbackInfo& info) {
    SetRef(false);
    return info.Env().Undefined();
  }
  Napi::Value JsActive(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), active_); }

 protected:
  void SetActive(bool on) {
    if (on == active_) {
      if (!on) Release();
      return;
    }
    active_ = on;
    // Value() must be taken before Unref() could let the wrapper go.
    if (on) {
      Hold();
    } else {
      Release();
    }
    loop_->Account(on ? 1 : -1, refd_ ? (on ? 1 : -1) : 0);
  }
  // A one-shot watcher that fired is inactive: its counts drop at once (so JS
  // may restart it and the process may exit), but the strong reference stays
  // until ReleaseIfStopped() after the callback, which saves a strong/weak
  // round trip when the callback restarts it, as timer chains do.
  void MarkStoppedKeepHeld() {
    if (!active_) return;
    active_ = false;
    loop_->Account(-1, refd_ ? -1 : 0);
  }
  void ReleaseIfStopped() {
    if (!active_) Release();
  }
  void SetRef(bool on) {
    if (on == refd_) return;
    refd_ = on;
    if (active_) loop_->Account(0, on ? 1 : -1);
  }
  // Calls the JS function stored in property `name` of this wrapper. The
  // caller opens the HandleScope (its arguments live in it).
  napi_value Emit(const char* name, size_t argc, const napi_value* argv) {
    if (loop_->terminating()) return nullptr;
    napi_env env = this->Env();
    napi_value self = this->Value();
    napi_value key = loop_->Key(name);
    napi_value fn;
    if (key == nullptr || napi_get_property(env, self, key, &fn) != napi_ok) return nullptr;
    napi_valuetype type;
    napi_typeof(env, fn, &type);
    if (type != napi_function) return nullptr;
    return loop_->Call(self, fn, argc, argv);
  }

  // Calls the callback the JS layer set for the whole class (Loop::SetCallbacks), with this wrapper as `this`.
  napi_value EmitShared(Loop::SharedCallback which, size_t argc, const napi_value* argv) {
    if (loop_->terminating()) return nullptr;
    napi_value fn = loop_->GetCallback(which);
    if (fn == nullptr) return nullptr;
    return loop_->Call(this->Value(), fn, argc, argv);
  }

  void Hold() {
    if (held_) return;
    held_ = true;
    this->Ref();
  }
  void Release() {
    if (!held_) return;
    held_ = false;
    this->Unref();
  }

  Loop* loop_;
  bool active_ = false;
  // Strongly referenced (Ref()'d): while active, and during the callback of a one-shot that fired.
  bool held_ = false;
  bool refd_ = true;
};

}  // namespace hublibev
