#include "TahSoftEmbedding.h"

#include <cstring>

#include "ggml-backend.h"
#include "llama-model.h"

bool TahSoftEmbedding::init(const llama_model * model, std::string & error) {
    for (const auto & [name, tensor] : llama_internal_get_tensor_map(model)) {
        if (name == "token_embd.weight") {
            table = tensor;
            break;
        }
    }
    if (table == nullptr) {
        error = "the model has no token_embd.weight tensor, which the depth-1 soft embedding reads";
        return false;
    }

    const auto * traits = ggml_get_type_traits(table->type);
    if (table->type != GGML_TYPE_F32 && traits->to_float == nullptr) {
        error = std::string("token_embd.weight has type ") + ggml_type_name(table->type) + ", which cannot be read back as floats";
        return false;
    }
    toFloat = traits->to_float;
    nEmbd = (int32_t) table->ne[0];
    nRows = (int32_t) table->ne[1];
    rowBytes.resize(table->nb[1]);
    rowFloats.resize(nEmbd);
    return true;
}

void TahSoftEmbedding::mix(const int32_t * ids, const float * weights, int32_t k, float * out) {
    std::memset(out, 0, sizeof(float) * nEmbd);
    for (int32_t i = 0; i < k; i++) {
        const int32_t id = ids[i];
        if (id < 0 || id >= nRows) {
            continue;
        }
        ggml_backend_tensor_get(table, rowBytes.data(), (size_t) id * table->nb[1], table->nb[1]);
        const float * row = rowFloats.data();
        if (table->type == GGML_TYPE_F32) {
            row = reinterpret_cast<const float *>(rowBytes.data());
        } else {
            toFloat(rowBytes.data(), rowFloats.data(), nEmbd);
        }
        const float w = weights[i];
        for (int32_t j = 0; j < nEmbd; j++) {
            out[j] += w * row[j];
        }
    }
}
