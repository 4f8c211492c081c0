// The single module init: one libev loop per Node environment (main thread or Worker).
#include <napi.h>

#ifndef __linux__
#include <dlfcn.h>
#endif

#include "addon.h"
#include "loop.h"

namespace hublibev {

#ifndef __linux__
// Where the linker has no -z nodelete: the addon must never be unloaded, since
// libuv runs our handles' close callbacks after the last environment is gone.
static void PinSelf() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&PinSelf), &info) != 0 && info.dli_fname != nullptr)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}
#endif

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
#ifndef __linux__
  PinSelf();
#endif
  if (Loop::Create(env) == nullptr) {
    Napi::Error::New(env, "libev: ev_loop_new() failed (out of file descriptors?)").ThrowAsJavaScriptException();
    return exports;
  }
  InitLoopBindings(env, exports);
  InitTimer(env, exports);
  InitIdle(env, exports);
  InitStream(env, exports);
  InitListener(env, exports);
  InitUdp(env, exports);
  return exports;
}

}  // namespace hublibev

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return hublibev::Init(env, exports); }

NODE_API_MODULE(hub_libev, InitModule)
