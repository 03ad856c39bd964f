#include "TahLogSumExp.h"

#include "TahGraphCompute.h"

#include <cmath>

namespace {

constexpr int32_t graphNodes = 16;

}

TahLogSumExp::TahLogSumExp() {
    backend = ggml_backend_init_by_type(GGML_BACKEND_DEVICE_TYPE_CPU, nullptr);
    if (backend != nullptr) {
        allocator = ggml_gallocr_new(ggml_backend_get_default_buffer_type(backend));
    }
    graphMeta.resize(ggml_tensor_overhead() * graphNodes + ggml_graph_overhead_custom(graphNodes, false));
}

TahLogSumExp::~TahLogSumExp() {
    if (allocator != nullptr) ggml_gallocr_free(allocator);
    if (backend != nullptr) ggml_backend_free(backend);
}

double TahLogSumExp::compute(const float * logits, int32_t nVocab, int32_t topId, float maxLogit, int32_t nThreads) {
    if (!std::isfinite(maxLogit)) {
        return maxLogit;
    }
    if (allocator != nullptr) {
        ggml_init_params params{graphMeta.size(), graphMeta.data(), /*no_alloc =*/ true};
        ggml_context * ctx = ggml_init(params);
        ggml_tensor * row = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, nVocab);
        ggml_set_input(row);
        // p(top) = exp(max - lse), so lse = max - log p(top); p(top) >= 1/nVocab keeps the float precise enough
        ggml_tensor * probs = ggml_soft_max(ctx, row);
        ggml_set_output(probs);
        ggml_cgraph * graph = ggml_new_graph_custom(ctx, graphNodes, false);
        ggml_build_forward_expand(graph, probs);
        float topProb = 0.0f;
        bool ok = ggml_gallocr_alloc_graph(allocator, graph);
        if (ok) {
            ggml_backend_tensor_set(row, logits, 0, sizeof(float) * nVocab);
            ok = tahComputeGraph(backend, graph, nThreads);
            if (ok) {
                ggml_backend_tensor_get(probs, &topProb, sizeof(float) * topId, sizeof(float));
            }
        }
        ggml_free(ctx);
        if (ok && topProb > 0.0f) {
            return (double) maxLogit - std::log((double) topProb);
        }
    }
    double sum = 0.0;
    for (int32_t i = 0; i < nVocab; i++) {
        sum += std::exp((double) (logits[i] - maxLogit));
    }
    return (double) maxLogit + std::log(sum);
}
