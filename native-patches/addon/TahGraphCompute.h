#pragma once

#include <cstdint>

#include "ggml-backend.h"

// Computes a graph on a backend with a thread count of the caller's: the addon's small graphs (decider, updater,
// log-sum-exp) run on a CPU backend of their own, which takes its thread count through the registry's proc address.
inline bool tahComputeGraph(ggml_backend_t backend, ggml_cgraph * graph, int32_t nThreads) {
    auto setThreads = (ggml_backend_set_n_threads_t) ggml_backend_reg_get_proc_address(
        ggml_backend_dev_backend_reg(ggml_backend_get_device(backend)), "ggml_backend_set_n_threads");
    if (setThreads != nullptr) {
        setThreads(backend, nThreads);
    }
    return ggml_backend_graph_compute(backend, graph) == GGML_STATUS_SUCCESS;
}
