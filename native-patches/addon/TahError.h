#pragma once

#include <string>
#include <utility>

#include "napi.h"

// A failure and its engine error code (src/engine/protocol/engineError.ts), set where the condition is known: the
// TypeScript side reads the code from the thrown error (engineErrorCodeOf), never from the message.
struct TahError {
    std::string code = "internal";
    std::string message;

    // Records the failure; false, so that a bool function can `return error.fail(...)`.
    bool fail(const char * failureCode, std::string failureMessage) {
        code = failureCode;
        message = std::move(failureMessage);
        return false;
    }

    // Rejects a promise with this failure (called on the JS thread).
    void reject(Napi::Promise::Deferred & deferred, const Napi::Error & error) const {
        Napi::Object value = error.Value();
        value.Set("code", code);
        deferred.Reject(value);
    }

    void throwJs(Napi::Env env) const {
        Napi::Error error = Napi::Error::New(env, message);
        error.Value().Set("code", code);
        error.ThrowAsJavaScriptException();
    }
};
