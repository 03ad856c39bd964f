#pragma once

#include <cstdint>
#include <string>

#include "ggml.h"
#include "gguf.h"

// Reading the small GGUF files the converter writes beside the backbone (the TaH v1 decider, the TaH2 networks):
// metadata checked by type, and tensor data checked against the file's size before any of it is read.
struct TahGgufFile {
    gguf_context * gguf = nullptr;
    ggml_context * meta = nullptr;
    ~TahGgufFile() {
        if (gguf != nullptr) gguf_free(gguf);
        if (meta != nullptr) ggml_free(meta);
    }

    // Opens a regular file's metadata and tensor headers (no data); false and error on any problem.
    bool open(const std::string & path, uint64_t & fileSize, std::string & error);
};

bool tahGgufInt(const gguf_context * gguf, const char * key, int32_t & out, std::string & error);
bool tahGgufFloat(const gguf_context * gguf, const char * key, float & out, std::string & error);
bool tahGgufString(const gguf_context * gguf, const char * key, std::string & out);

// Every tensor's data must lie inside the file: checked before any buffer is allocated for them.
bool tahGgufTensorsFitFile(const gguf_context * gguf, ggml_context * meta, uint64_t fileSize, std::string & error);

// Copies every tensor's data from the file into the (allocated) tensors of meta.
bool tahGgufLoadTensorData(const std::string & path, const gguf_context * gguf, ggml_context * meta, std::string & error);
