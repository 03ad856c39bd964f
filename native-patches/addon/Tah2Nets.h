#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"

// What a TaH2 networks file says (tah2-inference.md §1.4-1.6).
struct Tah2Settings {
    int32_t hiddenSize = 0;     // H, the backbone's width; the decider's top-k is H too (norm_l has H weights)
    int32_t updaterWidth = 0;   // the input updater's MLP width
    int32_t deciderWidth = 0;   // the decider's MLP width
    float eps = 1e-6f;          // both networks' RMSNorm epsilon (the classes' own, not config.json's)
    float threshold = 0.5f;
    int32_t maxIter = 2;        // D: depths 0 .. D-1
};

// TaH2's two small networks, each one ggml graph on the CPU backend for a batch of tokens (as v1's decider):
// the input updater, which builds depth d+1's input from the token's embedding and depth d's final-normed hidden
// state, and the decider, which reads those two and depth d's top-H softmax probabilities.
class Tah2Nets {
    public:
        ~Tah2Nets();

        // Reads a "tah2-nets" GGUF written by the converter, every size checked against the backbone first.
        static std::unique_ptr<Tah2Nets> load(const std::string & path, int32_t nEmbd, std::string & error);

        const Tah2Settings & settings() const { return config; }

        // rows of H floats each: embeddings E[x], hidden states h_d, sorted top-H probabilities; writes z per token
        bool decide(const float * embeddings, const float * hidden, const float * topProbs, int32_t nTokens,
                    int32_t nThreads, float * zOut, std::string & error);

        // rows of H floats each: embeddings E[x] and hidden states h_d; writes the next depth's inputs
        bool update(const float * embeddings, const float * hidden, int32_t nTokens, int32_t nThreads,
                    float * out, std::string & error);

    private:
        struct SwiGlu {
            ggml_tensor * gate = nullptr;
            ggml_tensor * up = nullptr;
            ggml_tensor * down = nullptr;
        };

        Tah2Settings config;
        ggml_context * weightsCtx = nullptr;
        ggml_backend_t backend = nullptr;
        ggml_backend_buffer_t weightsBuffer = nullptr;
        ggml_gallocr_t deciderAllocator = nullptr;
        ggml_gallocr_t updaterAllocator = nullptr;
        std::vector<uint8_t> graphMeta;
        // contexts of one model may run steps at the same time; the graphs' allocators are not shared safely
        std::mutex mutex;

        ggml_tensor * updNormPrev = nullptr;
        ggml_tensor * updNormLast = nullptr;
        ggml_tensor * updProjection = nullptr;
        ggml_tensor * updNormPreMlp = nullptr;
        SwiGlu updMlp;
        ggml_tensor * updNormOut = nullptr;

        ggml_tensor * decNormFirst = nullptr;
        ggml_tensor * decNormLast = nullptr;
        ggml_tensor * decNormL = nullptr;
        ggml_tensor * decInputProj = nullptr;
        SwiGlu decMlp;
        ggml_tensor * decNormOut = nullptr;
        ggml_tensor * decScore = nullptr;

        bool bindTensors(std::string & error);
        ggml_tensor * rmsNorm(ggml_context * ctx, ggml_tensor * x, ggml_tensor * weight) const;
        static ggml_tensor * swiGlu(ggml_context * ctx, ggml_tensor * x, const SwiGlu & mlp);
        bool compute(ggml_gallocr_t allocator, ggml_context * ctx, ggml_tensor * out, const std::vector<std::pair<ggml_tensor *, const float *>> & inputs,
                     int32_t nThreads, float * result, std::string & error);
};
