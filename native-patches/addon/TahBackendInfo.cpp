#include "TahBackendInfo.h"

#include <string>

#include "ggml-backend.h"

#ifdef _WIN32
#  define WIN32_LEAN_AND_MEAN
#  include <windows.h>
#else
#  include <dlfcn.h>
#endif

namespace {

// The file a registry object was loaded from: the CPU variant ggml chose is the library that holds its registry.
std::string libraryOf(const void * address) {
#ifdef _WIN32
    HMODULE module = nullptr;
    char name[MAX_PATH] = {0};
    if (GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                           static_cast<LPCSTR>(address), &module) &&
        GetModuleFileNameA(module, name, MAX_PATH) > 0) {
        return name;
    }
    return "";
#else
    Dl_info info{};
    return dladdr(address, &info) != 0 && info.dli_fname != nullptr ? info.dli_fname : "";
#endif
}

// "…/libggml-cpu-haswell.so" -> "haswell"; a CPU backend linked in (no variants) -> "built-in"
std::string variantOf(const std::string & file) {
    const size_t slash = file.find_last_of("/\\");
    std::string name = slash == std::string::npos ? file : file.substr(slash + 1);
    const std::string marker = "ggml-cpu-";
    const size_t start = name.find(marker);
    if (start == std::string::npos) {
        return "built-in";
    }
    name = name.substr(start + marker.size());
    return name.substr(0, name.find('.'));
}

// Whether the Vulkan loader is present: without it ggml cannot load its Vulkan backend and says nothing.
bool vulkanLoaderPresent() {
#ifdef _WIN32
    HMODULE loader = LoadLibraryA("vulkan-1.dll");
    if (loader != nullptr) FreeLibrary(loader);
#elif defined(__APPLE__)
    void * loader = dlopen("libvulkan.1.dylib", RTLD_LAZY | RTLD_LOCAL);
    if (loader != nullptr) dlclose(loader);
#else
    void * loader = dlopen("libvulkan.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (loader != nullptr) dlclose(loader);
#endif
    return loader != nullptr;
}

const char * typeName(enum ggml_backend_dev_type type) {
    switch (type) {
        case GGML_BACKEND_DEVICE_TYPE_CPU: return "cpu";
        case GGML_BACKEND_DEVICE_TYPE_GPU: return "gpu";
        case GGML_BACKEND_DEVICE_TYPE_IGPU: return "igpu";
        default: return "accel";
    }
}

}

Napi::Value tahBackendInfo(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    Napi::Object result = Napi::Object::New(env);

    ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    if (cpu != nullptr) {
        const std::string file = libraryOf(ggml_backend_dev_backend_reg(cpu));
        result.Set("cpuBackendFile", file);
        result.Set("cpuVariant", variantOf(file));
    }
    result.Set("vulkanLoader", vulkanLoaderPresent());

    Napi::Array backends = Napi::Array::New(env);
    for (size_t i = 0; i < ggml_backend_reg_count(); i++) {
        backends.Set(backends.Length(), ggml_backend_reg_name(ggml_backend_reg_get(i)));
    }
    result.Set("backends", backends);

    Napi::Array devices = Napi::Array::New(env);
    for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
        ggml_backend_dev_t device = ggml_backend_dev_get(i);
        ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(device);
        Napi::Object entry = Napi::Object::New(env);
        entry.Set("backend", reg == nullptr ? "" : ggml_backend_reg_name(reg));
        entry.Set("name", ggml_backend_dev_name(device));
        entry.Set("description", ggml_backend_dev_description(device));
        entry.Set("type", typeName(ggml_backend_dev_type(device)));
        devices.Set(devices.Length(), entry);
    }
    result.Set("devices", devices);
    return result;
}
