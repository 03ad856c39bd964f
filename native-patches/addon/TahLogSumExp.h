#pragma once

#include <cstdint>
#include <vector>

#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"

// log(sum(exp(row))) of a logits row, from ggml's softmax on its CPU backend: that softmax is vectorized for the
// machine (the addon itself is built for baseline x86-64, and ggml's plain exp op is scalar), which matters when the
// row is a 151,936-token vocabulary and it runs every token: about 0.2 ms instead of 0.8.
class TahLogSumExp {
    public:
        TahLogSumExp();
        ~TahLogSumExp();
        TahLogSumExp(const TahLogSumExp &) = delete;
        TahLogSumExp & operator=(const TahLogSumExp &) = delete;

        // lse of one row whose largest value and its index are known (the top candidate)
        double compute(const float * logits, int32_t nVocab, int32_t topId, float maxLogit, int32_t nThreads);

    private:
        ggml_backend_t backend = nullptr;
        ggml_gallocr_t allocator = nullptr;
        std::vector<uint8_t> graphMeta;
};
