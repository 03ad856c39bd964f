#include "TahModelParts.h"

#include <mutex>

#include "../AddonModel.h"

TahModelParts::~TahModelParts() {
    if (adapter != nullptr) {
        // llama.cpp frees a model's adapters with the model: free ours only while node-llama-cpp's model lives
        std::lock_guard<std::mutex> lock(backboneAddon->disposeMutex);
        if (!backboneAddon->memoryDisposed && backboneAddon->model == model) {
            llama_adapter_lora_free(adapter);
        }
    }
}

bool TahModelParts::load(AddonModel * backbone, const std::string & loraPath, const std::string & deciderPath,
                         const std::string & tah2Path, TahError & error) {
    backboneAddon = backbone;
    model = backbone->model;
    if (!tah2Path.empty()) {
        if (!loraPath.empty() || !deciderPath.empty()) {
            return error.fail("modelFile", "a TaH2 model has no LoRA and no v1 decider");
        }
        std::string reason;
        tah2Nets = Tah2Nets::load(tah2Path, llama_model_n_embd(model), reason);
        return tah2Nets != nullptr || error.fail("modelFile", reason);
    }
    if (loraPath.empty() && deciderPath.empty()) {
        return true;
    }
    if (loraPath.empty() || deciderPath.empty()) {
        return error.fail("modelFile", "a TaH model needs both its depth-1 LoRA and its decider");
    }

    std::string reason;
    deciderNet = TahDecider::load(deciderPath, llama_model_n_layer(model), llama_vocab_n_tokens(llama_model_get_vocab(model)), reason);
    if (deciderNet == nullptr) {
        return error.fail("modelFile", reason);
    }
    if (deciderNet->settings().hiddenSize != llama_model_n_embd(model)) {
        const std::string message = deciderPath + ": the decider reads hidden states of width " +
            std::to_string(deciderNet->settings().hiddenSize) + " but the backbone's width is " + std::to_string(llama_model_n_embd(model));
        deciderNet.reset();
        return error.fail("modelFile", message);
    }

    adapter = llama_adapter_lora_init(model, loraPath.c_str());
    if (adapter == nullptr) {
        deciderNet.reset();
        return error.fail("modelFile", loraPath + ": not a LoRA adapter for this backbone (missing, corrupt, or its tensors do not match the model)");
    }
    return true;
}
