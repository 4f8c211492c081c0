#pragma once

#include <napi.h>

namespace hublibev {

void InitLoopBindings(Napi::Env env, Napi::Object exports);
void InitTimer(Napi::Env env, Napi::Object exports);
void InitIdle(Napi::Env env, Napi::Object exports);
void InitStream(Napi::Env env, Napi::Object exports);
void InitListener(Napi::Env env, Napi::Object exports);
void InitUdp(Napi::Env env, Napi::Object exports);

}  // namespace hublibev
