#pragma once

#include "napi.h"

// Adds TaH's classes to node-llama-cpp's addon exports (called once from addon.cpp).
void registerTahAddon(Napi::Object exports);
