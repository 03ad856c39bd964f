#pragma once

#include <cstdint>
#include <vector>

#include "llama.h"

// Sampling settings in the reference's terms (tah-inference.md §6.1).
struct TahSamplingParams {
    float temperature = 0.0f;   // <= 0: greedy (argmax)
    int32_t topK = 0;           // <= 0: off
    float topP = 1.0f;          // >= 1: off
    float minP = 0.0f;          // <= 0: off
    uint32_t seed = 0;

    bool operator==(const TahSamplingParams & other) const {
        return temperature == other.temperature && topK == other.topK && topP == other.topP &&
               minP == other.minP && seed == other.seed;
    }
};

// Draws the next token from final logits with llama.cpp's samplers, chained in the reference's order:
// temperature, softmax, min-p, top-k, top-p, multinomial draw.
class TahSampler {
    public:
        explicit TahSampler(const TahSamplingParams & params);
        ~TahSampler();
        TahSampler(const TahSampler &) = delete;
        TahSampler & operator=(const TahSampler &) = delete;

        const TahSamplingParams & params() const { return settings; }

        int32_t sample(const float * logits, int32_t nVocab);

    private:
        TahSamplingParams settings;
        llama_sampler * chain = nullptr;
        std::vector<llama_token_data> candidates;
};
