#include "tahAddon.h"

#include "AddonTahContext.h"
#include "AddonTahModel.h"
#include "TahBackendInfo.h"
#include "TahQuantize.h"
#include "tahBuildId.h"

namespace {

Napi::Value tahBuildInfo(const Napi::CallbackInfo & info) {
    Napi::Object result = Napi::Object::New(info.Env());
    result.Set("buildId", TAH_BUILD_ID);
    return result;
}

}

void registerTahAddon(Napi::Object exports) {
    exports.Set("tahBuildInfo", Napi::Function::New(exports.Env(), tahBuildInfo, "tahBuildInfo"));
    exports.Set("tahBackendInfo", Napi::Function::New(exports.Env(), tahBackendInfo, "tahBackendInfo"));
    exports.Set("tahQuantize", Napi::Function::New(exports.Env(), tahQuantize, "tahQuantize"));
    AddonTahModel::init(exports);
    AddonTahContext::init(exports);
}
