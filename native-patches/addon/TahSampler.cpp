#include "TahSampler.h"

#include "TahSelect.h"

TahSampler::TahSampler(const TahSamplingParams & params) : settings(params) {
    if (params.temperature <= 0.0f) {
        return;
    }
    chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
    llama_sampler_chain_add(chain, llama_sampler_init_temp(params.temperature));
    if (params.minP > 0.0f) {
        llama_sampler_chain_add(chain, llama_sampler_init_min_p(params.minP, 1));
    }
    if (params.topK > 0) {
        llama_sampler_chain_add(chain, llama_sampler_init_top_k(params.topK));
    }
    if (params.topP < 1.0f) {
        llama_sampler_chain_add(chain, llama_sampler_init_top_p(params.topP, 1));
    }
    llama_sampler_chain_add(chain, llama_sampler_init_dist(params.seed));
}

TahSampler::~TahSampler() {
    if (chain != nullptr) {
        llama_sampler_free(chain);
    }
}

int32_t TahSampler::sample(const float * logits, int32_t nVocab) {
    if (chain == nullptr) {
        return tahArgmax(logits, nVocab);
    }
    candidates.resize(nVocab);
    for (int32_t id = 0; id < nVocab; id++) {
        candidates[id] = llama_token_data{id, logits[id], 0.0f};
    }
    llama_token_data_array array{candidates.data(), candidates.size(), -1, false};
    llama_sampler_apply(chain, &array);
    return array.data[array.selected].id;
}
