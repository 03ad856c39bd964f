#pragma once

#include <memory>
#include <string>

#include "llama.h"
#include "Tah2Nets.h"
#include "TahDecider.h"
#include "TahError.h"

class AddonModel;

// What a TaH model adds to its backbone. TaH v1: the depth-1 LoRA and the decider; TaH2: the input updater and the
// decider (Tah2Nets), and no LoRA. A plain GGUF has none of them.
// Shared (std::shared_ptr) by the AddonTahModel and each context's evaluator, so that it lives as long as the last
// of them, whatever order they are disposed in.
class TahModelParts {
    public:
        TahModelParts() = default;
        ~TahModelParts();
        TahModelParts(const TahModelParts &) = delete;
        TahModelParts & operator=(const TahModelParts &) = delete;

        // Loads v1's LoRA and decider together, or TaH2's networks alone, or nothing (all paths empty).
        bool load(AddonModel * backbone, const std::string & loraPath, const std::string & deciderPath,
                  const std::string & tah2Path, TahError & error);

        llama_model * backbone() const { return model; }
        llama_adapter_lora * lora() const { return adapter; }
        const TahDecider * decider() const { return deciderNet.get(); }
        TahDecider * decider() { return deciderNet.get(); }
        const Tah2Nets * tah2() const { return tah2Nets.get(); }
        Tah2Nets * tah2() { return tah2Nets.get(); }
        bool isTah() const { return deciderNet != nullptr || tah2Nets != nullptr; }
        // 1 for TaH v1 (and a plain model), 2 for TaH2
        int32_t generation() const { return tah2Nets != nullptr ? 2 : 1; }

    private:
        AddonModel * backboneAddon = nullptr;
        llama_model * model = nullptr;
        llama_adapter_lora * adapter = nullptr;
        std::unique_ptr<TahDecider> deciderNet;
        std::unique_ptr<Tah2Nets> tah2Nets;
};
