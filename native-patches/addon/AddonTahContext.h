#pragma once

#include <memory>
#include <mutex>

#include "napi.h"
#include "TahEvaluator.h"

class AddonTahModel;

// JS: new AddonTahContext(tahModel, options); await init(); await evaluate(seq, tokens, options);
// removeFrom(seq, pos); nextPosition(seq); abort(); dispose()
class AddonTahContext : public Napi::ObjectWrap<AddonTahContext> {
    public:
        explicit AddonTahContext(const Napi::CallbackInfo & info);

        static void init(Napi::Object exports);

        AddonTahModel * model = nullptr;
        TahContextOptions options;
        std::unique_ptr<TahEvaluator> evaluator;
        std::mutex mutex;  // one native operation at a time; dispose waits for a running step
        bool disposed = false;

    private:
        Napi::ObjectReference modelRef;

        Napi::Value Init(const Napi::CallbackInfo & info);
        Napi::Value Evaluate(const Napi::CallbackInfo & info);
        Napi::Value RemoveFrom(const Napi::CallbackInfo & info);
        Napi::Value NextPosition(const Napi::CallbackInfo & info);
        Napi::Value Abort(const Napi::CallbackInfo & info);
        Napi::Value Dispose(const Napi::CallbackInfo & info);
};
