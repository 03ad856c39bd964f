#include "AddonTahModel.h"

#include "../AddonModel.h"

class AddonTahModelLoadWorker : public Napi::AsyncWorker {
    public:
        AddonTahModelLoadWorker(const Napi::Env & env, AddonTahModel * tahModel)
            : Napi::AsyncWorker(env, "AddonTahModelLoadWorker"), model(tahModel), deferred(Napi::Promise::Deferred::New(env)) {
            model->Ref();
        }
        ~AddonTahModelLoadWorker() { model->Unref(); }

        Napi::Promise GetPromise() { return deferred.Promise(); }

    protected:
        void Execute() override {
            std::lock_guard<std::mutex> lock(model->mutex);
            if (model->disposed || model->backbone->model == nullptr) {
                error.fail("aborted", "the model is disposed");
                SetError(error.message);
                return;
            }
            if (!model->parts->load(model->backbone, model->loraPath, model->deciderPath, model->tah2Path, error)) {
                SetError(error.message);
                return;
            }
            model->loaded = true;
        }
        void OnOK() override { deferred.Resolve(Env().Undefined()); }
        void OnError(const Napi::Error & err) override { error.reject(deferred, err); }

    private:
        AddonTahModel * model;
        Napi::Promise::Deferred deferred;
        TahError error;
};

AddonTahModel::AddonTahModel(const Napi::CallbackInfo & info) : Napi::ObjectWrap<AddonTahModel>(info) {
    if (info.Length() < 1 || !info[0].IsObject()) {
        Napi::TypeError::New(info.Env(), "AddonTahModel needs a loaded AddonModel").ThrowAsJavaScriptException();
        return;
    }
    backbone = Napi::ObjectWrap<AddonModel>::Unwrap(info[0].As<Napi::Object>());
    backboneRef = Napi::Persistent(info[0].As<Napi::Object>());
    if (info.Length() > 1 && info[1].IsObject()) {
        const auto options = info[1].As<Napi::Object>();
        if (options.Has("loraPath") && options.Get("loraPath").IsString()) {
            loraPath = options.Get("loraPath").As<Napi::String>().Utf8Value();
        }
        if (options.Has("deciderPath") && options.Get("deciderPath").IsString()) {
            deciderPath = options.Get("deciderPath").As<Napi::String>().Utf8Value();
        }
        if (options.Has("tah2Path") && options.Get("tah2Path").IsString()) {
            tah2Path = options.Get("tah2Path").As<Napi::String>().Utf8Value();
        }
    }
}

AddonTahModel::~AddonTahModel() {
    // before backboneRef: freeing the parts reads the backbone's state
    parts.reset();
}

Napi::Value AddonTahModel::Init(const Napi::CallbackInfo & info) {
    auto * worker = new AddonTahModelLoadWorker(info.Env(), this);
    worker->Queue();
    return worker->GetPromise();
}

Napi::Value AddonTahModel::GetInfo(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    std::lock_guard<std::mutex> lock(mutex);
    if (!loaded || disposed) {
        Napi::Error::New(env, "the TaH model is not loaded").ThrowAsJavaScriptException();
        return env.Undefined();
    }
    const llama_model * model = parts->backbone();
    Napi::Object result = Napi::Object::New(env);
    result.Set("nEmbd", llama_model_n_embd(model));
    result.Set("nLayer", llama_model_n_layer(model));
    result.Set("nVocab", llama_vocab_n_tokens(llama_model_get_vocab(model)));
    result.Set("isTah", parts->isTah());
    result.Set("generation", parts->generation());
    if (parts->tah2() != nullptr) {
        const Tah2Settings & s = parts->tah2()->settings();
        result.Set("threshold", s.threshold);
        result.Set("maxIter", s.maxIter);
        result.Set("updaterWidth", s.updaterWidth);
        result.Set("deciderWidth", s.deciderWidth);
        result.Set("logitTopK", s.hiddenSize);
    } else if (parts->isTah()) {
        const TahSettings & s = parts->decider()->settings();
        Napi::Array taps = Napi::Array::New(env, s.taps.size());
        for (size_t i = 0; i < s.taps.size(); i++) {
            taps.Set(i, s.taps[i]);
        }
        result.Set("taps", taps);
        result.Set("logitTopK", s.logitTopK);
        result.Set("softEmbeddingTopK", s.softEmbeddingTopK);
        result.Set("deciderWidth", s.width);
        result.Set("deciderBlocks", s.blockCount);
        result.Set("threshold", s.threshold);
        result.Set("maxIter", s.maxIter);
    }
    return result;
}

Napi::Value AddonTahModel::Dispose(const Napi::CallbackInfo & info) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!disposed) {
        disposed = true;
        loaded = false;
        parts.reset();
    }
    return info.Env().Undefined();
}

void AddonTahModel::init(Napi::Object exports) {
    exports.Set("AddonTahModel", DefineClass(exports.Env(), "AddonTahModel", {
        InstanceMethod("init", &AddonTahModel::Init),
        InstanceMethod("getInfo", &AddonTahModel::GetInfo),
        InstanceMethod("dispose", &AddonTahModel::Dispose),
    }));
}
