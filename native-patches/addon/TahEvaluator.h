#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "llama.h"
#include "TahError.h"
#include "TahModelParts.h"
#include "TahSampler.h"
#include "TahSelect.h"
#include "TahLogSumExp.h"
#include "TahSoftEmbedding.h"

struct TahContextOptions {
    uint32_t positionsPerSequence = 4096;  // the most positions one sequence may hold
    uint32_t kvCells = 8192;               // cells of the unified KV cache, depth-1 entries included
    uint32_t batchSize = 128;              // the most tokens of one evaluate call
    uint32_t sequences = 1;
    int32_t threads = 1;
    int32_t flashAttention = -1;           // -1 auto, 0 off, 1 on
    ggml_type kvType = GGML_TYPE_F16;
    bool preallocateDepth1 = false;        // grow compute buffers for depth 1 up front (offloaded models)
};

struct TahStepOptions {
    double threshold = 0.9;                // iterate iff P(hard) > threshold
    int32_t recordTopN = 10;               // candidates kept per record
    int32_t recordFrom = 0;                // first batch index that gets a record
    bool sample = false;
    TahSamplingParams sampling;
};

struct TahTimings {
    double depth0Us = 0;
    double deciderUs = 0;
    double selectUs = 0;     // top-k, soft embedding, logit sum, records
    double loraUs = 0;       // attaching/detaching the adapter (the graph re-plan shows up in the next decode)
    double depth1Us = 0;
    double sampleUs = 0;
};

// Per-token records, structure of arrays; row r describes batch index recordFrom + r.
struct TahStepResult {
    int32_t recordFrom = 0;
    int32_t records = 0;
    int32_t topN = 0;
    int32_t iteratedCount = 0;
    std::vector<float> pHard;            // NaN without a decider
    std::vector<uint8_t> iterated;
    std::vector<int32_t> top0Ids;        // depth-0 logits, best first
    std::vector<float> top0Logits;
    std::vector<double> lse0;
    std::vector<int32_t> topFinalIds;    // final logits (depth 0 + depth 1 where iterated)
    std::vector<float> topFinalLogits;
    std::vector<double> lseFinal;
    int32_t nextToken = -1;
    TahTimings timings;
};

// Runs TaH on one llama_context holding several logical sequences. Logical sequence s owns llama
// sequence ids a = 2s and b = 2s + 1 on a unified KV cache: depth-0 cells belong to {a, b}, depth-1
// cells to {b} only; depth-0 queries use a, depth-1 queries use b. llama.cpp's mask keeps a cell for
// a query iff the cell has the query's first sequence id and pos' <= pos, which is the duo-causal rule.
class TahEvaluator {
    public:
        ~TahEvaluator();
        TahEvaluator(const TahEvaluator &) = delete;
        TahEvaluator & operator=(const TahEvaluator &) = delete;

        // The evaluator shares the model parts: disposing the model first cannot free what a running step uses.
        static std::unique_ptr<TahEvaluator> create(std::shared_ptr<TahModelParts> parts, const TahContextOptions & options, TahError & error);

        // Appends tokens to a sequence (one batch, depth 0 then depth 1) and optionally samples the next token.
        bool evaluate(int32_t sequence, const std::vector<llama_token> & tokens, const TahStepOptions & options,
                      TahStepResult & result, TahError & error);

        // Forgets positions >= position of a sequence, at both depths.
        bool removeFrom(int32_t sequence, llama_pos position, TahError & error);
        llama_pos nextPosition(int32_t sequence) const;

        // Makes a running decode return early; the next evaluate clears it.
        void abort() { aborted.store(true); }

    private:
        struct Sequence {
            llama_pos nextPos = 0;
            std::vector<float> lastLogits;
            bool hasLastLogits = false;
            std::unique_ptr<TahSampler> sampler;
        };

        TahEvaluator(std::shared_ptr<TahModelParts> parts, const TahContextOptions & options);
        bool preallocateDepth1(TahError & error);

        std::shared_ptr<TahModelParts> partsOwner;
        TahModelParts & parts;
        TahContextOptions options;
        llama_context * ctx = nullptr;
        const llama_vocab * vocab = nullptr;
        int32_t nVocab = 0;
        int32_t nEmbd = 0;
        llama_batch tokenBatch{};
        llama_batch embdBatch{};
        bool loraAttached = false;
        std::atomic_bool aborted{false};
        std::vector<Sequence> sequenceStates;
        TahSoftEmbedding softEmbedding;
        TahLogSumExp logSumExp;

        // scratch, reused across steps
        std::vector<std::vector<TahCandidate>> rowCandidates;
        std::vector<float> deciderTopValues;
        std::vector<float> deciderZ;
        std::vector<float> softWeights;
        std::vector<int32_t> softIds;
        std::vector<int32_t> iteratedRows;
        std::vector<float> iteratedLogits;
        std::vector<TahCandidate> finalCandidates;

        // the jobs of evaluate(), in order
        bool checkStep(int32_t sequence, const std::vector<llama_token> & tokens, TahError & error) const;
        void startResult(int32_t n, const TahStepOptions & step, TahStepResult & result) const;
        bool runStep(int32_t sequence, const std::vector<llama_token> & tokens, const TahStepOptions & step,
                     TahStepResult & result, TahError & error);
        bool decodeDepth0(int32_t sequence, const std::vector<llama_token> & tokens, TahStepResult & result, TahError & error);
        void rankRows(int32_t n, TahStepResult & result);
        bool decide(int32_t sequence, int32_t n, const TahStepOptions & step, TahStepResult & result, TahError & error);
        void copyUniteratedRecords(TahStepResult & result) const;
        bool sampleNext(int32_t sequence, const TahStepOptions & step, TahStepResult & result, TahError & error);
        bool wantsLogits(int32_t i, int32_t n, const TahStepResult & result) const;

        static bool abortCallback(void * data);
        bool setLora(bool attached, TahTimings & timings);
        bool decode(llama_batch & batch, int32_t sequence, TahError & error);
        void rollbackStep(int32_t sequence);
        void recordRow(const float * logits, std::vector<TahCandidate> & candidates, int32_t topN,
                       std::vector<int32_t> & ids, std::vector<float> & values, std::vector<double> & lse, int32_t row);
        bool runDepth1(int32_t sequence, int32_t n, TahStepResult & result, TahError & error);
};
