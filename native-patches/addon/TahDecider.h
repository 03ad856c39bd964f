#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"

// What a TaH model file says about its decider and its iteration (tah-inference.md §1.4, §4).
struct TahSettings {
    std::vector<int32_t> taps;          // HF hidden_states indices = llama.cpp layer-input ids
    int32_t logitTopK = 100;            // decider feature: top-k raw logit values
    int32_t softEmbeddingTopK = 100;    // depth-1 input: softmax over this many top logits
    int32_t hiddenSize = 0;             // H, the backbone's embedding width
    int32_t width = 0;                  // D, the decider's width
    int32_t blockCount = 0;
    float layerNormEps = 1e-5f;
    float threshold = 0.9f;
    int32_t maxIter = 2;
};

// The MLP decider (MLPIterDecider): P(hard) of each token from its tapped residual streams and its
// top-k logit values, computed as one ggml graph on the CPU backend for a whole batch of tokens.
class TahDecider {
    public:
        ~TahDecider();

        // Reads a decider GGUF written by the converter; nullptr and error on any problem. Every value read from the
        // file is checked against the backbone (nLayer, nVocab) and the file's own size before anything is allocated.
        static std::unique_ptr<TahDecider> load(const std::string & path, int32_t nLayer, int32_t nVocab, std::string & error);

        const TahSettings & settings() const { return config; }

        // taps[t] holds nTokens rows of hiddenSize floats; topValues holds nTokens rows of logitTopK floats.
        // Writes the decider logit z of each token (P(hard) = sigmoid(z)).
        bool forward(const std::vector<const float *> & taps, const float * topValues, int32_t nTokens,
                     int32_t nThreads, float * zOut, std::string & error);

    private:
        struct Block {
            ggml_tensor * normWeight;
            ggml_tensor * normBias;
            ggml_tensor * upWeight;
            ggml_tensor * upBias;
            ggml_tensor * downWeight;
            ggml_tensor * downBias;
        };

        TahSettings config;
        ggml_context * weightsCtx = nullptr;
        ggml_backend_t backend = nullptr;
        ggml_backend_buffer_t weightsBuffer = nullptr;
        ggml_gallocr_t allocator = nullptr;
        int32_t graphSize = 0;  // nodes (and leaves) of forward()'s graph: follows from the block count
        std::vector<uint8_t> graphMeta;
        std::vector<float> tapsInput;

        ggml_tensor * logitsProjWeight = nullptr;
        ggml_tensor * logitsProjBias = nullptr;
        ggml_tensor * combinedWeight = nullptr;
        ggml_tensor * combinedBias = nullptr;
        ggml_tensor * inputProjWeight = nullptr;
        ggml_tensor * inputProjBias = nullptr;
        std::vector<Block> blocks;
        ggml_tensor * outNormWeight = nullptr;
        ggml_tensor * outNormBias = nullptr;
        ggml_tensor * outWeight = nullptr;
        ggml_tensor * outBias = nullptr;

        bool bindTensors(std::string & error);
        ggml_tensor * layerNorm(ggml_context * ctx, ggml_tensor * x, ggml_tensor * weight, ggml_tensor * bias) const;
        static ggml_tensor * linear(ggml_context * ctx, ggml_tensor * x, ggml_tensor * weight, ggml_tensor * bias);
};
