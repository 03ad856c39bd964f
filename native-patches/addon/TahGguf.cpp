#include "TahGguf.h"

#include <cstdio>
#include <filesystem>
#include <vector>

#include "ggml-backend.h"

bool TahGgufFile::open(const std::string & path, uint64_t & fileSize, std::string & error) {
    // only a regular file: a FIFO would block the reader, a device could be endless
    std::error_code fsError;
    if (!std::filesystem::is_regular_file(path, fsError)) {
        error = path + " is not a regular file";
        return false;
    }
    fileSize = std::filesystem::file_size(path, fsError);
    if (fsError) {
        error = "cannot read the size of " + path;
        return false;
    }
    gguf = gguf_init_from_file(path.c_str(), {/*no_alloc =*/ true, /*ctx =*/ &meta});
    if (gguf == nullptr) {
        error = "cannot read " + path + " as GGUF (missing, truncated or corrupt)";
        return false;
    }
    return true;
}

bool tahGgufInt(const gguf_context * gguf, const char * key, int32_t & out, std::string & error) {
    const int64_t id = gguf_find_key(gguf, key);
    if (id < 0) {
        error = std::string("missing metadata key ") + key;
        return false;
    }
    switch (gguf_get_kv_type(gguf, id)) {
        case GGUF_TYPE_UINT32: out = (int32_t) gguf_get_val_u32(gguf, id); return true;
        case GGUF_TYPE_INT32: out = gguf_get_val_i32(gguf, id); return true;
        default:
            error = std::string("metadata key ") + key + " is not an integer";
            return false;
    }
}

bool tahGgufFloat(const gguf_context * gguf, const char * key, float & out, std::string & error) {
    const int64_t id = gguf_find_key(gguf, key);
    if (id < 0 || gguf_get_kv_type(gguf, id) != GGUF_TYPE_FLOAT32) {
        error = std::string("missing or non-float metadata key ") + key;
        return false;
    }
    out = gguf_get_val_f32(gguf, id);
    return true;
}

bool tahGgufString(const gguf_context * gguf, const char * key, std::string & out) {
    const int64_t id = gguf_find_key(gguf, key);
    if (id < 0 || gguf_get_kv_type(gguf, id) != GGUF_TYPE_STRING) {
        return false;
    }
    out = gguf_get_val_str(gguf, id);
    return true;
}

bool tahGgufTensorsFitFile(const gguf_context * gguf, ggml_context * meta, uint64_t fileSize, std::string & error) {
    const uint64_t dataOffset = gguf_get_data_offset(gguf);
    for (int64_t i = 0; i < gguf_get_n_tensors(gguf); i++) {
        const ggml_tensor * tensor = ggml_get_tensor(meta, gguf_get_tensor_name(gguf, i));
        const uint64_t end = dataOffset + gguf_get_tensor_offset(gguf, i) + ggml_nbytes(tensor);
        if (end > fileSize || end < dataOffset) {
            error = std::string("tensor ") + ggml_get_name(tensor) + " declares " + std::to_string(ggml_nbytes(tensor)) +
                    " bytes beyond the end of the file (" + std::to_string(fileSize) + " bytes)";
            return false;
        }
    }
    return true;
}

bool tahGgufLoadTensorData(const std::string & path, const gguf_context * gguf, ggml_context * meta, std::string & error) {
    FILE * file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
        error = "cannot open " + path;
        return false;
    }
    std::vector<uint8_t> bytes;
    bool ok = true;
    const size_t dataOffset = gguf_get_data_offset(gguf);
    for (int64_t i = 0; i < gguf_get_n_tensors(gguf) && ok; i++) {
        ggml_tensor * tensor = ggml_get_tensor(meta, gguf_get_tensor_name(gguf, i));
        const size_t size = ggml_nbytes(tensor);
        bytes.resize(size);
        ok = std::fseek(file, (long) (dataOffset + gguf_get_tensor_offset(gguf, i)), SEEK_SET) == 0 &&
             std::fread(bytes.data(), 1, size, file) == size;
        if (ok) {
            ggml_backend_tensor_set(tensor, bytes.data(), 0, size);
        } else {
            error = std::string("the data of tensor ") + ggml_get_name(tensor) + " is truncated";
        }
    }
    std::fclose(file);
    return ok;
}
