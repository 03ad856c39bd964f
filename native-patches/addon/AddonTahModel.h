#pragma once

#include <mutex>
#include <string>

#include "napi.h"
#include "TahModelParts.h"

class AddonModel;

// JS: new AddonTahModel(addonModel, {loraPath?, deciderPath?}); await init(); getInfo(); dispose()
// Adds a TaH model's LoRA and decider to a backbone that node-llama-cpp has loaded.
class AddonTahModel : public Napi::ObjectWrap<AddonTahModel> {
    public:
        explicit AddonTahModel(const Napi::CallbackInfo & info);

        static void init(Napi::Object exports);

        TahModelParts parts;
        std::mutex mutex;
        bool loaded = false;
        bool disposed = false;

    private:
        AddonModel * backbone = nullptr;
        Napi::ObjectReference backboneRef;
        std::string loraPath;
        std::string deciderPath;

        Napi::Value Init(const Napi::CallbackInfo & info);
        Napi::Value GetInfo(const Napi::CallbackInfo & info);
        Napi::Value Dispose(const Napi::CallbackInfo & info);

        friend class AddonTahModelLoadWorker;
};
