#include "AddonTahContext.h"

#include <cstring>

#include "AddonTahModel.h"
#include "TahComputeThread.h"

namespace {

uint32_t optionalUint(const Napi::Object & options, const char * key, uint32_t fallback) {
    return options.Has(key) && options.Get(key).IsNumber() ? options.Get(key).As<Napi::Number>().Uint32Value() : fallback;
}

double optionalDouble(const Napi::Object & options, const char * key, double fallback) {
    return options.Has(key) && options.Get(key).IsNumber() ? options.Get(key).As<Napi::Number>().DoubleValue() : fallback;
}

template <typename TypedArray, typename Value>
TypedArray copyToJs(Napi::Env env, const std::vector<Value> & values) {
    TypedArray array = TypedArray::New(env, values.size());
    if (!values.empty()) {
        std::memcpy(array.Data(), values.data(), values.size() * sizeof(Value));
    }
    return array;
}

}

class AddonTahContextInitWorker : public Napi::AsyncWorker {
    public:
        AddonTahContextInitWorker(const Napi::Env & env, AddonTahContext * tahContext)
            : Napi::AsyncWorker(env, "AddonTahContextInitWorker"), context(tahContext), deferred(Napi::Promise::Deferred::New(env)) {
            context->Ref();
        }
        ~AddonTahContextInitWorker() { context->Unref(); }

        Napi::Promise GetPromise() { return deferred.Promise(); }

    protected:
        void Execute() override {
            std::lock_guard<std::mutex> modelLock(context->model->mutex);
            std::lock_guard<std::mutex> lock(context->mutex);
            if (context->disposed || !context->model->loaded) {
                error.fail("noModel", "the TaH model is not loaded");
                SetError(error.message);
                return;
            }
            TahComputeThread::run([this] { context->evaluator = TahEvaluator::create(context->model->parts, context->options, error); });
            if (context->evaluator == nullptr) {
                SetError(error.message);
            }
        }
        void OnOK() override { deferred.Resolve(Env().Undefined()); }
        void OnError(const Napi::Error & err) override { error.reject(deferred, err); }

    private:
        AddonTahContext * context;
        Napi::Promise::Deferred deferred;
        TahError error;
};

class AddonTahContextEvaluateWorker : public Napi::AsyncWorker {
    public:
        AddonTahContextEvaluateWorker(const Napi::Env & env, AddonTahContext * tahContext, int32_t sequenceIndex,
                                      std::vector<llama_token> && inputTokens, const TahStepOptions & stepOptions)
            : Napi::AsyncWorker(env, "AddonTahContextEvaluateWorker"), context(tahContext), sequence(sequenceIndex),
              tokens(std::move(inputTokens)), step(stepOptions), deferred(Napi::Promise::Deferred::New(env)) {
            context->Ref();
        }
        ~AddonTahContextEvaluateWorker() { context->Unref(); }

        Napi::Promise GetPromise() { return deferred.Promise(); }

    protected:
        void Execute() override {
            std::lock_guard<std::mutex> lock(context->mutex);
            if (context->disposed || context->evaluator == nullptr) {
                error.fail("stopped", "the TaH context is disposed");
                SetError(error.message);
                return;
            }
            bool ok = false;
            TahComputeThread::run([this, &ok] { ok = context->evaluator->evaluate(sequence, tokens, step, result, error); });
            if (!ok) {
                SetError(error.message);
            }
        }

        void OnOK() override {
            Napi::Env env = Env();
            Napi::Object out = Napi::Object::New(env);
            out.Set("recordFrom", result.recordFrom);
            out.Set("records", result.records);
            out.Set("topN", result.topN);
            out.Set("iteratedCount", result.iteratedCount);
            out.Set("pHard", copyToJs<Napi::Float32Array>(env, result.pHard));
            out.Set("iterated", copyToJs<Napi::Uint8Array>(env, result.iterated));
            out.Set("depth", copyToJs<Napi::Uint8Array>(env, result.depth));
            out.Set("pContinueStride", result.pContinueStride);
            out.Set("pContinue", copyToJs<Napi::Float32Array>(env, result.pContinue));
            out.Set("top0Ids", copyToJs<Napi::Int32Array>(env, result.top0Ids));
            out.Set("top0Logits", copyToJs<Napi::Float32Array>(env, result.top0Logits));
            out.Set("lse0", copyToJs<Napi::Float64Array>(env, result.lse0));
            out.Set("topFinalIds", copyToJs<Napi::Int32Array>(env, result.topFinalIds));
            out.Set("topFinalLogits", copyToJs<Napi::Float32Array>(env, result.topFinalLogits));
            out.Set("lseFinal", copyToJs<Napi::Float64Array>(env, result.lseFinal));
            out.Set("nextToken", result.nextToken);

            Napi::Object timings = Napi::Object::New(env);
            timings.Set("depth0Us", result.timings.depth0Us);
            timings.Set("deciderUs", result.timings.deciderUs);
            timings.Set("selectUs", result.timings.selectUs);
            timings.Set("loraUs", result.timings.loraUs);
            timings.Set("depth1Us", result.timings.depth1Us);
            timings.Set("sampleUs", result.timings.sampleUs);
            out.Set("timings", timings);
            deferred.Resolve(out);
        }
        void OnError(const Napi::Error & err) override { error.reject(deferred, err); }

    private:
        AddonTahContext * context;
        TahError error;
        int32_t sequence;
        std::vector<llama_token> tokens;
        TahStepOptions step;
        TahStepResult result;
        Napi::Promise::Deferred deferred;
};

AddonTahContext::AddonTahContext(const Napi::CallbackInfo & info) : Napi::ObjectWrap<AddonTahContext>(info) {
    if (info.Length() < 1 || !info[0].IsObject()) {
        Napi::TypeError::New(info.Env(), "AddonTahContext needs an AddonTahModel").ThrowAsJavaScriptException();
        return;
    }
    model = Napi::ObjectWrap<AddonTahModel>::Unwrap(info[0].As<Napi::Object>());
    modelRef = Napi::Persistent(info[0].As<Napi::Object>());
    if (info.Length() > 1 && info[1].IsObject()) {
        const auto o = info[1].As<Napi::Object>();
        options.positionsPerSequence = optionalUint(o, "positionsPerSequence", options.positionsPerSequence);
        options.kvCells = optionalUint(o, "kvCells", options.kvCells);
        options.batchSize = optionalUint(o, "batchSize", options.batchSize);
        options.sequences = optionalUint(o, "sequences", options.sequences);
        options.threads = (int32_t) optionalUint(o, "threads", (uint32_t) options.threads);
        options.flashAttention = (int32_t) optionalDouble(o, "flashAttention", options.flashAttention);
        options.kvType = (ggml_type) optionalUint(o, "kvType", (uint32_t) options.kvType);
        options.preallocateDepth1 = optionalUint(o, "preallocateDepth1", 0) != 0;
    }
}

Napi::Value AddonTahContext::Init(const Napi::CallbackInfo & info) {
    auto * worker = new AddonTahContextInitWorker(info.Env(), this);
    worker->Queue();
    return worker->GetPromise();
}

Napi::Value AddonTahContext::Evaluate(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsObject()) {
        Napi::TypeError::New(env, "evaluate(sequence, Uint32Array tokens, options)").ThrowAsJavaScriptException();
        return env.Undefined();
    }
    const int32_t sequence = info[0].As<Napi::Number>().Int32Value();
    const auto input = info[1].As<Napi::Uint32Array>();
    std::vector<llama_token> tokens(input.ElementLength());
    for (size_t i = 0; i < tokens.size(); i++) {
        tokens[i] = (llama_token) input[i];
    }

    const auto o = info[2].As<Napi::Object>();
    TahStepOptions step;
    step.threshold = optionalDouble(o, "threshold", step.threshold);
    step.recordTopN = (int32_t) optionalUint(o, "recordTopN", (uint32_t) step.recordTopN);
    step.recordFrom = (int32_t) optionalUint(o, "recordFrom", (uint32_t) step.recordFrom);
    if (o.Has("sample") && o.Get("sample").IsObject()) {
        const auto s = o.Get("sample").As<Napi::Object>();
        step.sample = true;
        step.sampling.temperature = (float) optionalDouble(s, "temperature", 0.0);
        step.sampling.topK = (int32_t) optionalDouble(s, "topK", 0);
        step.sampling.topP = (float) optionalDouble(s, "topP", 1.0);
        step.sampling.minP = (float) optionalDouble(s, "minP", 0.0);
        step.sampling.seed = optionalUint(s, "seed", 0);
    }

    auto * worker = new AddonTahContextEvaluateWorker(env, this, sequence, std::move(tokens), step);
    worker->Queue();
    return worker->GetPromise();
}

Napi::Value AddonTahContext::RemoveFrom(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    std::lock_guard<std::mutex> lock(mutex);
    TahError error;
    if (evaluator == nullptr || disposed) {
        error.fail("stopped", "the TaH context is disposed");
        error.throwJs(env);
    } else if (!evaluator->removeFrom(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Number>().Int32Value(), error)) {
        error.throwJs(env);
    }
    return env.Undefined();
}

Napi::Value AddonTahContext::NextPosition(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    std::lock_guard<std::mutex> lock(mutex);
    const int32_t sequence = info[0].As<Napi::Number>().Int32Value();
    if (evaluator == nullptr || sequence < 0 || sequence >= (int32_t) options.sequences) {
        return Napi::Number::New(env, -1);
    }
    return Napi::Number::New(env, evaluator->nextPosition(sequence));
}

Napi::Value AddonTahContext::Abort(const Napi::CallbackInfo & info) {
    // deliberately without the lock: it must reach a step that holds it
    if (evaluator != nullptr) {
        evaluator->abort();
    }
    return info.Env().Undefined();
}

Napi::Value AddonTahContext::Dispose(const Napi::CallbackInfo & info) {
    if (evaluator != nullptr) {
        evaluator->abort();
    }
    std::lock_guard<std::mutex> lock(mutex);
    if (!disposed) {
        disposed = true;
        evaluator.reset();
        modelRef.Reset();
    }
    return info.Env().Undefined();
}

void AddonTahContext::init(Napi::Object exports) {
    exports.Set("AddonTahContext", DefineClass(exports.Env(), "AddonTahContext", {
        InstanceMethod("init", &AddonTahContext::Init),
        InstanceMethod("evaluate", &AddonTahContext::Evaluate),
        InstanceMethod("removeFrom", &AddonTahContext::RemoveFrom),
        InstanceMethod("nextPosition", &AddonTahContext::NextPosition),
        InstanceMethod("abort", &AddonTahContext::Abort),
        InstanceMethod("dispose", &AddonTahContext::Dispose),
    }));
}
