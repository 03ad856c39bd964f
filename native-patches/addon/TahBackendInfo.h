#pragma once

#include "napi.h"

// JS: tahBackendInfo() -> {cpuVariant, cpuBackendFile, vulkanLoader, backends: [name], devices: [{backend, name, description, type}]}
// What ggml's registry loaded: with GGML_BACKEND_DL each backend, and each CPU variant, is a library of its own.
Napi::Value tahBackendInfo(const Napi::CallbackInfo & info);
