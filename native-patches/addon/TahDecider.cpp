#include "TahDecider.h"

#include <cmath>
#include <cstring>

#include "TahGguf.h"
#include "TahGraphCompute.h"

namespace {

// Each block of forward() adds 9 nodes (layer norm 3, two linears 4, GELU, residual add) and 6 weights; what lies
// outside the blocks adds 12 nodes, 10 weights and 2 inputs. The margin keeps the count honest if forward() grows.
constexpr int64_t graphNodesPerBlock = 9;
constexpr int64_t graphNodesOutsideBlocks = 32;
// The tensors each block binds (bindTensors): a file with fewer cannot hold its declared block count.
constexpr int64_t tensorsPerBlock = 6;

bool readTaps(const gguf_context * gguf, std::vector<int32_t> & taps, std::string & error) {
    const int64_t id = gguf_find_key(gguf, "tah.decider.taps");
    if (id < 0 || gguf_get_kv_type(gguf, id) != GGUF_TYPE_ARRAY || gguf_get_arr_type(gguf, id) != GGUF_TYPE_INT32) {
        error = "missing metadata key tah.decider.taps (an int32 array)";
        return false;
    }
    const size_t n = gguf_get_arr_n(gguf, id);
    const auto * data = static_cast<const int32_t *>(gguf_get_arr_data(gguf, id));
    taps.assign(data, data + n);
    return true;
}

bool readSettings(const gguf_context * gguf, int32_t nLayer, int32_t nVocab, TahSettings & s, std::string & error) {
    std::string arch;
    if (!tahGgufString(gguf, "general.architecture", arch) || arch != "tah-decider") {
        error = "not a TaH decider file (general.architecture is not \"tah-decider\")";
        return false;
    }
    std::string gelu;
    if (tahGgufString(gguf, "tah.decider.gelu", gelu) && gelu != "erf") {
        error = "unsupported decider GELU \"" + gelu + "\" (only the exact erf form of nn.GELU() is supported)";
        return false;
    }
    if (!readTaps(gguf, s.taps, error) ||
        !tahGgufInt(gguf, "tah.decider.logit_top_k", s.logitTopK, error) ||
        !tahGgufInt(gguf, "tah.soft_embedding_top_k", s.softEmbeddingTopK, error) ||
        !tahGgufInt(gguf, "tah.decider.hidden_size", s.hiddenSize, error) ||
        !tahGgufInt(gguf, "tah.decider.width", s.width, error) ||
        !tahGgufInt(gguf, "tah.decider.block_count", s.blockCount, error) ||
        !tahGgufFloat(gguf, "tah.decider.layer_norm_epsilon", s.layerNormEps, error) ||
        !tahGgufFloat(gguf, "tah.threshold", s.threshold, error) ||
        !tahGgufInt(gguf, "tah.max_iter", s.maxIter, error)) {
        return false;
    }
    if (s.taps.empty()) {
        error = "the decider taps no layer";
        return false;
    }
    for (const int32_t tap : s.taps) {
        // hidden_states[nLayer] is the final-normed output, which llama.cpp does not expose as a layer input
        if (tap < 0 || tap >= nLayer) {
            error = "decider tap " + std::to_string(tap) + " is outside the backbone's layer inputs 0.." + std::to_string(nLayer - 1);
            return false;
        }
    }
    if (s.logitTopK <= 0 || s.softEmbeddingTopK <= 0 || s.width <= 0 || s.blockCount < 0 || s.hiddenSize <= 0) {
        error = "the decider's sizes must be positive";
        return false;
    }
    if (s.logitTopK > nVocab || s.softEmbeddingTopK > nVocab) {
        error = "the decider's top-k (" + std::to_string(s.logitTopK) + ", " + std::to_string(s.softEmbeddingTopK) +
                ") exceeds the backbone's vocabulary of " + std::to_string(nVocab);
        return false;
    }
    // an upper bound before anything is bound or allocated; bindTensors then names the first missing tensor
    const int64_t nTensors = gguf_get_n_tensors(gguf);
    if (s.blockCount > nTensors / tensorsPerBlock) {
        error = "tah.decider.block_count is " + std::to_string(s.blockCount) + " but the file holds only " +
                std::to_string(nTensors) + " tensors (" + std::to_string(tensorsPerBlock) + " per block)";
        return false;
    }
    // ggml_norm asserts a non-negative epsilon: a NaN would abort the process at the first token
    if (!std::isfinite(s.layerNormEps) || s.layerNormEps < 0.0f) {
        error = "tah.decider.layer_norm_epsilon must be a finite number >= 0, not " + std::to_string(s.layerNormEps);
        return false;
    }
    if (!std::isfinite(s.threshold)) {
        error = "tah.threshold must be a finite number";
        return false;
    }
    if (s.maxIter < 1) {
        error = "tah.max_iter must be at least 1";
        return false;
    }
    return true;
}

}

TahDecider::~TahDecider() {
    if (allocator != nullptr) ggml_gallocr_free(allocator);
    if (weightsBuffer != nullptr) ggml_backend_buffer_free(weightsBuffer);
    if (weightsCtx != nullptr) ggml_free(weightsCtx);
    if (backend != nullptr) ggml_backend_free(backend);
}

std::unique_ptr<TahDecider> TahDecider::load(const std::string & path, int32_t nLayer, int32_t nVocab, std::string & error) {
    TahGgufFile file;
    uint64_t fileSize = 0;
    if (!file.open(path, fileSize, error)) {
        return nullptr;
    }

    std::unique_ptr<TahDecider> decider(new TahDecider());
    if (!readSettings(file.gguf, nLayer, nVocab, decider->config, error) || !tahGgufTensorsFitFile(file.gguf, file.meta, fileSize, error)) {
        error = path + ": " + error;
        return nullptr;
    }

    decider->backend = ggml_backend_init_by_type(GGML_BACKEND_DEVICE_TYPE_CPU, nullptr);
    if (decider->backend == nullptr) {
        error = "no CPU backend for the decider";
        return nullptr;
    }
    decider->weightsBuffer = ggml_backend_alloc_ctx_tensors(file.meta, decider->backend);
    if (decider->weightsBuffer == nullptr) {
        error = "cannot allocate the decider's weights";
        return nullptr;
    }
    if (!tahGgufLoadTensorData(path, file.gguf, file.meta, error)) {
        error = path + ": " + error;
        return nullptr;
    }
    decider->weightsCtx = file.meta;
    file.meta = nullptr;

    if (!decider->bindTensors(error)) {
        error = path + ": " + error;
        return nullptr;
    }
    decider->allocator = ggml_gallocr_new(ggml_backend_get_default_buffer_type(decider->backend));
    decider->graphSize = (int32_t) (graphNodesOutsideBlocks + graphNodesPerBlock * decider->config.blockCount);
    decider->graphMeta.resize(ggml_tensor_overhead() * decider->graphSize + ggml_graph_overhead_custom(decider->graphSize, false));
    return decider;
}

bool TahDecider::bindTensors(std::string & error) {
    const int64_t H = config.hiddenSize;
    const int64_t D = config.width;
    const int64_t K = config.logitTopK;
    const int64_t nTaps = (int64_t) config.taps.size();

    // shapes are ggml's [in, out] for a torch Linear [out, in]
    auto bind = [&](const std::string & name, int64_t ne0, int64_t ne1) -> ggml_tensor * {
        if (!error.empty()) return nullptr;
        ggml_tensor * t = ggml_get_tensor(weightsCtx, name.c_str());
        if (t == nullptr) {
            error = "missing decider tensor " + name;
            return nullptr;
        }
        const bool isMatrix = ne1 > 1;
        const bool typeOk = t->type == GGML_TYPE_F32 || (isMatrix && (t->type == GGML_TYPE_F16 || t->type == GGML_TYPE_BF16));
        if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1 || !typeOk) {
            error = "decider tensor " + name + " has shape [" + std::to_string(t->ne[0]) + ", " + std::to_string(t->ne[1]) +
                    "] of type " + ggml_type_name(t->type) + ", expected [" + std::to_string(ne0) + ", " + std::to_string(ne1) + "]";
            return nullptr;
        }
        return t;
    };

    logitsProjWeight = bind("logits_projection.weight", K, H);
    logitsProjBias = bind("logits_projection.bias", H, 1);
    combinedWeight = bind("combined_projection.weight", nTaps * H + H, D);
    combinedBias = bind("combined_projection.bias", D, 1);
    inputProjWeight = bind("backbone.input_projection.weight", D, D);
    inputProjBias = bind("backbone.input_projection.bias", D, 1);
    for (int32_t i = 0; i < config.blockCount && error.empty(); i++) {
        const std::string prefix = "backbone.blocks." + std::to_string(i) + ".";
        Block block;
        block.normWeight = bind(prefix + "layer_norm.weight", D, 1);
        block.normBias = bind(prefix + "layer_norm.bias", D, 1);
        block.upWeight = bind(prefix + "mlp.0.weight", D, 4 * D);
        block.upBias = bind(prefix + "mlp.0.bias", 4 * D, 1);
        block.downWeight = bind(prefix + "mlp.3.weight", 4 * D, D);
        block.downBias = bind(prefix + "mlp.3.bias", D, 1);
        blocks.push_back(block);
    }
    outNormWeight = bind("backbone.output_layer.0.weight", D, 1);
    outNormBias = bind("backbone.output_layer.0.bias", D, 1);
    outWeight = bind("backbone.output_layer.1.weight", D, 1);
    outBias = bind("backbone.output_layer.1.bias", 1, 1);
    return error.empty();
}

ggml_tensor * TahDecider::linear(ggml_context * ctx, ggml_tensor * x, ggml_tensor * weight, ggml_tensor * bias) {
    return ggml_add(ctx, ggml_mul_mat(ctx, weight, x), bias);
}

ggml_tensor * TahDecider::layerNorm(ggml_context * ctx, ggml_tensor * x, ggml_tensor * weight, ggml_tensor * bias) const {
    return ggml_add(ctx, ggml_mul(ctx, ggml_norm(ctx, x, config.layerNormEps), weight), bias);
}

bool TahDecider::forward(const std::vector<const float *> & taps, const float * topValues, int32_t nTokens,
                         int32_t nThreads, float * zOut, std::string & error) {
    const int64_t H = config.hiddenSize;
    const int64_t K = config.logitTopK;
    const int64_t nTaps = (int64_t) config.taps.size();
    if ((int64_t) taps.size() != nTaps || nTokens <= 0) {
        error = "decider called with the wrong number of taps";
        return false;
    }

    ggml_init_params params{graphMeta.size(), graphMeta.data(), /*no_alloc =*/ true};
    ggml_context * ctx = ggml_init(params);

    ggml_tensor * tapsIn = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, nTaps * H, nTokens);
    ggml_set_input(tapsIn);
    ggml_tensor * topIn = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, K, nTokens);
    ggml_set_input(topIn);

    // combined_projection(concat(h_taps..., logits_projection(top-k values)))
    ggml_tensor * projected = linear(ctx, topIn, logitsProjWeight, logitsProjBias);
    ggml_tensor * x = linear(ctx, ggml_concat(ctx, tapsIn, projected, 0), combinedWeight, combinedBias);
    x = linear(ctx, x, inputProjWeight, inputProjBias);
    for (const Block & block : blocks) {
        ggml_tensor * h = layerNorm(ctx, x, block.normWeight, block.normBias);
        h = ggml_gelu_erf(ctx, linear(ctx, h, block.upWeight, block.upBias));
        x = ggml_add(ctx, x, linear(ctx, h, block.downWeight, block.downBias));
    }
    ggml_tensor * z = linear(ctx, layerNorm(ctx, x, outNormWeight, outNormBias), outWeight, outBias);
    ggml_set_output(z);

    ggml_cgraph * graph = ggml_new_graph_custom(ctx, graphSize, false);
    ggml_build_forward_expand(graph, z);

    bool ok = ggml_gallocr_alloc_graph(allocator, graph);
    if (ok) {
        tapsInput.resize((size_t) nTaps * H * nTokens);
        for (int32_t token = 0; token < nTokens; token++) {
            for (int64_t t = 0; t < nTaps; t++) {
                std::memcpy(&tapsInput[(token * nTaps + t) * H], taps[t] + (size_t) token * H, sizeof(float) * H);
            }
        }
        ggml_backend_tensor_set(tapsIn, tapsInput.data(), 0, ggml_nbytes(tapsIn));
        ggml_backend_tensor_set(topIn, topValues, 0, ggml_nbytes(topIn));

        ok = tahComputeGraph(backend, graph, nThreads);
        if (ok) {
            ggml_backend_tensor_get(z, zOut, 0, sizeof(float) * nTokens);
        }
    }
    if (!ok) {
        error = "the decider's graph could not be computed";
    }
    ggml_free(ctx);
    return ok;
}
