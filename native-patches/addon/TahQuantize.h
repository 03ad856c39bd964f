#pragma once

#include "napi.h"

// JS: await tahQuantize(inputPath, outputPath, {ftype, threads}) — llama.cpp's own quantizer on a GGUF file.
Napi::Value tahQuantize(const Napi::CallbackInfo & info);
