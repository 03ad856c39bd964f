#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "napi.h"
#include "TahModelParts.h"

class AddonModel;

// JS: new AddonTahModel(addonModel, {loraPath?, deciderPath?, tah2Path?}); await init(); getInfo(); dispose()
// Adds a TaH model's parts (v1: LoRA and decider; TaH2: updater and decider) to a backbone node-llama-cpp has loaded.
class AddonTahModel : public Napi::ObjectWrap<AddonTahModel> {
    public:
        explicit AddonTahModel(const Napi::CallbackInfo & info);
        ~AddonTahModel();

        static void init(Napi::Object exports);

        // shared with each context's evaluator; null once disposed (the parts live on while a context uses them)
        std::shared_ptr<TahModelParts> parts = std::make_shared<TahModelParts>();
        std::mutex mutex;
        bool loaded = false;
        bool disposed = false;

    private:
        AddonModel * backbone = nullptr;
        // kept until this object is finalized, not only disposed: the parts a context still holds need the backbone
        Napi::ObjectReference backboneRef;
        std::string loraPath;
        std::string deciderPath;
        std::string tah2Path;

        Napi::Value Init(const Napi::CallbackInfo & info);
        Napi::Value GetInfo(const Napi::CallbackInfo & info);
        Napi::Value Dispose(const Napi::CallbackInfo & info);

        friend class AddonTahModelLoadWorker;
};
