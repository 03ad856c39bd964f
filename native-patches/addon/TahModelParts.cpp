#include "TahModelParts.h"

TahModelParts::~TahModelParts() {
    release();
}

void TahModelParts::release() {
    if (adapter != nullptr) {
        llama_adapter_lora_free(adapter);
        adapter = nullptr;
    }
    deciderNet.reset();
}

bool TahModelParts::load(llama_model * backboneModel, const std::string & loraPath, const std::string & deciderPath, std::string & error) {
    model = backboneModel;
    if (loraPath.empty() && deciderPath.empty()) {
        return true;
    }
    if (loraPath.empty() || deciderPath.empty()) {
        error = "a TaH model needs both its depth-1 LoRA and its decider";
        return false;
    }

    deciderNet = TahDecider::load(deciderPath, llama_model_n_layer(model), error);
    if (deciderNet == nullptr) {
        return false;
    }
    if (deciderNet->settings().hiddenSize != llama_model_n_embd(model)) {
        error = deciderPath + ": the decider reads hidden states of width " + std::to_string(deciderNet->settings().hiddenSize) +
                " but the backbone's width is " + std::to_string(llama_model_n_embd(model));
        deciderNet.reset();
        return false;
    }

    adapter = llama_adapter_lora_init(model, loraPath.c_str());
    if (adapter == nullptr) {
        error = loraPath + ": not a LoRA adapter for this backbone (missing, corrupt, or its tensors do not match the model)";
        deciderNet.reset();
        return false;
    }
    return true;
}
