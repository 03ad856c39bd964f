#include "Tah2Nets.h"

#include <cmath>

#include "TahGguf.h"
#include "TahGraphCompute.h"

namespace {

// The larger of the two graphs (the decider's) has 23 nodes and 12 leaves; the margin keeps the count honest.
constexpr int32_t graphSize = 64;

bool readSettings(const gguf_context * gguf, int32_t nEmbd, Tah2Settings & s, std::string & error) {
    std::string arch;
    if (!tahGgufString(gguf, "general.architecture", arch) || arch != "tah2-nets") {
        error = "not a TaH2 networks file (general.architecture is not \"tah2-nets\")";
        return false;
    }
    int32_t topK = 0;
    if (!tahGgufInt(gguf, "tah2.hidden_size", s.hiddenSize, error) ||
        !tahGgufInt(gguf, "tah2.updater.width", s.updaterWidth, error) ||
        !tahGgufInt(gguf, "tah2.decider.width", s.deciderWidth, error) ||
        !tahGgufInt(gguf, "tah2.decider.top_k", topK, error) ||
        !tahGgufFloat(gguf, "tah2.rms_norm_epsilon", s.eps, error) ||
        !tahGgufFloat(gguf, "tah.threshold", s.threshold, error) ||
        !tahGgufInt(gguf, "tah.max_iter", s.maxIter, error)) {
        return false;
    }
    if (s.hiddenSize != nEmbd) {
        error = "the networks read hidden states of width " + std::to_string(s.hiddenSize) + " but the backbone's width is " + std::to_string(nEmbd);
        return false;
    }
    // norm_l has hidden_size weights: no other top-k can run (tah2-inference.md §1.4)
    if (topK != s.hiddenSize) {
        error = "the decider's top-k " + std::to_string(topK) + " is not the hidden size " + std::to_string(s.hiddenSize);
        return false;
    }
    if (s.updaterWidth <= 0 || s.deciderWidth <= 0) {
        error = "the networks' widths must be positive";
        return false;
    }
    // ggml_rms_norm asserts a non-negative epsilon
    if (!std::isfinite(s.eps) || s.eps < 0.0f) {
        error = "tah2.rms_norm_epsilon must be a finite number >= 0";
        return false;
    }
    if (!std::isfinite(s.threshold)) {
        error = "tah.threshold must be a finite number";
        return false;
    }
    // one llama.cpp sequence id per depth and logical sequence (TahEvaluator): a bound far above the recipes' 8
    if (s.maxIter < 2 || s.maxIter > 32) {
        error = "tah.max_iter must be from 2 to 32, not " + std::to_string(s.maxIter);
        return false;
    }
    return true;
}

}

Tah2Nets::~Tah2Nets() {
    if (deciderAllocator != nullptr) ggml_gallocr_free(deciderAllocator);
    if (updaterAllocator != nullptr) ggml_gallocr_free(updaterAllocator);
    if (weightsBuffer != nullptr) ggml_backend_buffer_free(weightsBuffer);
    if (weightsCtx != nullptr) ggml_free(weightsCtx);
    if (backend != nullptr) ggml_backend_free(backend);
}

std::unique_ptr<Tah2Nets> Tah2Nets::load(const std::string & path, int32_t nEmbd, std::string & error) {
    TahGgufFile file;
    uint64_t fileSize = 0;
    if (!file.open(path, fileSize, error)) {
        return nullptr;
    }
    std::unique_ptr<Tah2Nets> nets(new Tah2Nets());
    if (!readSettings(file.gguf, nEmbd, nets->config, error) || !tahGgufTensorsFitFile(file.gguf, file.meta, fileSize, error)) {
        error = path + ": " + error;
        return nullptr;
    }
    nets->backend = ggml_backend_init_by_type(GGML_BACKEND_DEVICE_TYPE_CPU, nullptr);
    if (nets->backend == nullptr) {
        error = "no CPU backend for the TaH2 networks";
        return nullptr;
    }
    nets->weightsBuffer = ggml_backend_alloc_ctx_tensors(file.meta, nets->backend);
    if (nets->weightsBuffer == nullptr) {
        error = "cannot allocate the TaH2 networks' weights";
        return nullptr;
    }
    if (!tahGgufLoadTensorData(path, file.gguf, file.meta, error)) {
        error = path + ": " + error;
        return nullptr;
    }
    nets->weightsCtx = file.meta;
    file.meta = nullptr;
    if (!nets->bindTensors(error)) {
        error = path + ": " + error;
        return nullptr;
    }
    nets->deciderAllocator = ggml_gallocr_new(ggml_backend_get_default_buffer_type(nets->backend));
    nets->updaterAllocator = ggml_gallocr_new(ggml_backend_get_default_buffer_type(nets->backend));
    nets->graphMeta.resize(ggml_tensor_overhead() * graphSize + ggml_graph_overhead_custom(graphSize, false));
    return nets;
}

bool Tah2Nets::bindTensors(std::string & error) {
    const int64_t H = config.hiddenSize;
    // shapes are ggml's [in, out] for a torch Linear [out, in]; F32 only, so the CPU backend computes in f32
    auto bind = [&](const std::string & name, int64_t ne0, int64_t ne1) -> ggml_tensor * {
        if (!error.empty()) return nullptr;
        ggml_tensor * t = ggml_get_tensor(weightsCtx, name.c_str());
        if (t == nullptr) {
            error = "missing TaH2 tensor " + name;
            return nullptr;
        }
        if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1 || t->type != GGML_TYPE_F32) {
            error = "TaH2 tensor " + name + " has shape [" + std::to_string(t->ne[0]) + ", " + std::to_string(t->ne[1]) +
                    "] of type " + ggml_type_name(t->type) + ", expected F32 [" + std::to_string(ne0) + ", " + std::to_string(ne1) + "]";
            return nullptr;
        }
        return t;
    };
    auto swiGluOf = [&](const std::string & prefix, int64_t width) {
        SwiGlu mlp;
        mlp.gate = bind(prefix + "mlp.gate_proj.weight", H, width);
        mlp.up = bind(prefix + "mlp.up_proj.weight", H, width);
        mlp.down = bind(prefix + "mlp.down_proj.weight", width, H);
        return mlp;
    };
    updNormPrev = bind("updater.norm_prev.weight", H, 1);
    updNormLast = bind("updater.norm_last.weight", H, 1);
    updProjection = bind("updater.projection.weight", 2 * H, H);
    updNormPreMlp = bind("updater.norm_pre_mlp.weight", H, 1);
    updMlp = swiGluOf("updater.", config.updaterWidth);
    updNormOut = bind("updater.norm_out.weight", H, 1);
    decNormFirst = bind("decider.norm_first.weight", H, 1);
    decNormLast = bind("decider.norm_last.weight", H, 1);
    decNormL = bind("decider.norm_l.weight", H, 1);
    decInputProj = bind("decider.input_proj.weight", 3 * H, H);
    decMlp = swiGluOf("decider.", config.deciderWidth);
    decNormOut = bind("decider.norm_out.weight", H, 1);
    decScore = bind("decider.score.weight", H, 1);
    return error.empty();
}

ggml_tensor * Tah2Nets::rmsNorm(ggml_context * ctx, ggml_tensor * x, ggml_tensor * weight) const {
    return ggml_mul(ctx, ggml_rms_norm(ctx, x, config.eps), weight);
}

ggml_tensor * Tah2Nets::swiGlu(ggml_context * ctx, ggml_tensor * x, const SwiGlu & mlp) {
    ggml_tensor * gated = ggml_mul(ctx, ggml_silu(ctx, ggml_mul_mat(ctx, mlp.gate, x)), ggml_mul_mat(ctx, mlp.up, x));
    return ggml_mul_mat(ctx, mlp.down, gated);
}

bool Tah2Nets::compute(ggml_gallocr_t allocator, ggml_context * ctx, ggml_tensor * out,
                       const std::vector<std::pair<ggml_tensor *, const float *>> & inputs, int32_t nThreads, float * result,
                       std::string & error) {
    ggml_set_output(out);
    ggml_cgraph * graph = ggml_new_graph_custom(ctx, graphSize, false);
    ggml_build_forward_expand(graph, out);
    bool ok = ggml_gallocr_alloc_graph(allocator, graph);
    if (ok) {
        for (const auto & [tensor, data] : inputs) {
            ggml_backend_tensor_set(tensor, data, 0, ggml_nbytes(tensor));
        }
        ok = tahComputeGraph(backend, graph, nThreads);
        if (ok) {
            ggml_backend_tensor_get(out, result, 0, ggml_nbytes(out));
        }
    }
    if (!ok) {
        error = "the TaH2 networks' graph could not be computed";
    }
    ggml_free(ctx);
    return ok;
}

bool Tah2Nets::decide(const float * embeddings, const float * hidden, const float * topProbs, int32_t nTokens,
                      int32_t nThreads, float * zOut, std::string & error) {
    std::lock_guard<std::mutex> lock(mutex);
    const int64_t H = config.hiddenSize;
    ggml_init_params params{graphMeta.size(), graphMeta.data(), /*no_alloc =*/ true};
    ggml_context * ctx = ggml_init(params);
    ggml_tensor * e = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, H, nTokens);
    ggml_tensor * h = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, H, nTokens);
    ggml_tensor * q = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, H, nTokens);
    for (ggml_tensor * input : {e, h, q}) {
        ggml_set_input(input);
    }
    // input_proj · [norm_first(e0) ‖ norm_last(h) ‖ norm_l(top-H)] → SwiGLU → norm_out → score (§2.2)
    ggml_tensor * joined = ggml_concat(ctx, ggml_concat(ctx, rmsNorm(ctx, e, decNormFirst), rmsNorm(ctx, h, decNormLast), 0),
                                       rmsNorm(ctx, q, decNormL), 0);
    ggml_tensor * x = swiGlu(ctx, ggml_mul_mat(ctx, decInputProj, joined), decMlp);
    ggml_tensor * z = ggml_mul_mat(ctx, decScore, rmsNorm(ctx, x, decNormOut));
    return compute(deciderAllocator, ctx, z, {{e, embeddings}, {h, hidden}, {q, topProbs}}, nThreads, zOut, error);
}

bool Tah2Nets::update(const float * embeddings, const float * hidden, int32_t nTokens, int32_t nThreads, float * out, std::string & error) {
    std::lock_guard<std::mutex> lock(mutex);
    const int64_t H = config.hiddenSize;
    ggml_init_params params{graphMeta.size(), graphMeta.data(), /*no_alloc =*/ true};
    ggml_context * ctx = ggml_init(params);
    ggml_tensor * e = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, H, nTokens);
    ggml_tensor * h = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, H, nTokens);
    ggml_set_input(e);
    ggml_set_input(h);
    // norm_out(SwiGLU(norm_pre_mlp(projection · [norm_prev(e0) ‖ norm_last(h)]))) (§2.3)
    ggml_tensor * joined = ggml_concat(ctx, rmsNorm(ctx, e, updNormPrev), rmsNorm(ctx, h, updNormLast), 0);
    ggml_tensor * x = rmsNorm(ctx, ggml_mul_mat(ctx, updProjection, joined), updNormPreMlp);
    ggml_tensor * u = rmsNorm(ctx, swiGlu(ctx, x, updMlp), updNormOut);
    return compute(updaterAllocator, ctx, u, {{e, embeddings}, {h, hidden}}, nThreads, out, error);
}
