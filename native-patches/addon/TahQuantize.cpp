#include "TahQuantize.h"

#include <string>

#include "llama.h"

namespace {

class QuantizeWorker : public Napi::AsyncWorker {
    public:
        QuantizeWorker(const Napi::Env & env, std::string inputPath, std::string outputPath, int32_t fileType, int32_t threads)
            : Napi::AsyncWorker(env, "TahQuantizeWorker"), input(std::move(inputPath)), output(std::move(outputPath)),
              ftype(fileType), nThreads(threads), deferred(Napi::Promise::Deferred::New(env)) {}

        Napi::Promise GetPromise() { return deferred.Promise(); }

    protected:
        void Execute() override {
            llama_model_quantize_params params = llama_model_quantize_default_params();
            params.ftype = (llama_ftype) ftype;
            params.nthread = nThreads;
            if (llama_model_quantize(input.c_str(), output.c_str(), &params) != 0) {
                SetError("llama.cpp could not quantize " + input + " (see the log)");
            }
        }
        void OnOK() override { deferred.Resolve(Env().Undefined()); }
        void OnError(const Napi::Error & err) override { deferred.Reject(err.Value()); }

    private:
        std::string input;
        std::string output;
        int32_t ftype;
        int32_t nThreads;
        Napi::Promise::Deferred deferred;
};

}

Napi::Value tahQuantize(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsObject()) {
        Napi::TypeError::New(env, "tahQuantize(inputPath, outputPath, {ftype, threads})").ThrowAsJavaScriptException();
        return env.Undefined();
    }
    const auto options = info[2].As<Napi::Object>();
    const int32_t ftype = options.Get("ftype").As<Napi::Number>().Int32Value();
    const int32_t threads = options.Has("threads") ? options.Get("threads").As<Napi::Number>().Int32Value() : 1;
    auto * worker = new QuantizeWorker(env, info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(), ftype, threads);
    worker->Queue();
    return worker->GetPromise();
}
