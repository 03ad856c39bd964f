#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ggml.h"
#include "llama.h"

// The depth-1 input of TaH: a softmax-weighted mix of rows of the backbone's input embedding matrix.
// Rows are read (and dequantized) one at a time, so a quantized table never becomes a float copy.
class TahSoftEmbedding {
    public:
        // Finds token_embd.weight of the model; error is set when it is missing or of an unusable type.
        bool init(const llama_model * model, std::string & error);

        int32_t width() const { return nEmbd; }

        // out[0..width) = sum_k weights[k] * E[ids[k]]
        void mix(const int32_t * ids, const float * weights, int32_t k, float * out);

    private:
        const ggml_tensor * table = nullptr;
        int32_t nEmbd = 0;
        int32_t nRows = 0;
        ggml_to_float_t toFloat = nullptr;
        std::vector<uint8_t> rowBytes;
        std::vector<float> rowFloats;
};
