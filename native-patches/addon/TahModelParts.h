#pragma once

#include <memory>
#include <string>

#include "llama.h"
#include "TahDecider.h"
#include "TahError.h"

class AddonModel;

// What a TaH model adds to its backbone: the depth-1 LoRA and the decider. A plain GGUF has neither.
// Shared (std::shared_ptr) by the AddonTahModel and each context's evaluator, so that it lives as long as the last
// of them, whatever order they are disposed in.
class TahModelParts {
    public:
        TahModelParts() = default;
        ~TahModelParts();
        TahModelParts(const TahModelParts &) = delete;
        TahModelParts & operator=(const TahModelParts &) = delete;

        // Loads both parts, or neither (empty paths): a TaH model needs its LoRA and its decider together.
        bool load(AddonModel * backbone, const std::string & loraPath, const std::string & deciderPath, TahError & error);

        llama_model * backbone() const { return model; }
        llama_adapter_lora * lora() const { return adapter; }
        const TahDecider * decider() const { return deciderNet.get(); }
        TahDecider * decider() { return deciderNet.get(); }
        bool isTah() const { return deciderNet != nullptr; }

    private:
        AddonModel * backboneAddon = nullptr;
        llama_model * model = nullptr;
        llama_adapter_lora * adapter = nullptr;
        std::unique_ptr<TahDecider> deciderNet;
};
