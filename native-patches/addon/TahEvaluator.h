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
    uint32_t kvCells = 8192;               // cells of the unified KV cache, deeper entries included
    uint32_t batchSize = 128;              // the most tokens of one evaluate call
    uint32_t sequences = 1;
    int32_t threads = 1;
    int32_t flashAttention = -1;           // -1 auto, 0 off, 1 on
    ggml_type kvType = GGML_TYPE_F16;
    bool preallocateDepth1 = false;        // grow compute buffers for an embedding-input batch up front (offloaded models)
};

struct TahStepOptions {
    double threshold = 0.9;                // go deeper iff the decider's probability > threshold
    int32_t recordTopN = 10;               // candidates kept per record
    int32_t recordFrom = 0;                // first batch index that gets a record
    bool sample = false;
    TahSamplingParams sampling;
};

struct TahTimings {
    double depth0Us = 0;
    double deciderUs = 0;
    double selectUs = 0;     // top-k, the next depth's input (v1 soft embedding, TaH2 updater), output mix, records
    double loraUs = 0;       // attaching/detaching the adapter (the graph re-plan shows up in the next decode)
    double depth1Us = 0;     // every depth after 0
    double sampleUs = 0;
};

// Per-token records, structure of arrays; row r describes batch index recordFrom + r.
struct TahStepResult {
    int32_t recordFrom = 0;
    int32_t records = 0;
    int32_t topN = 0;
    int32_t iteratedCount = 0;
    std::vector<float> pHard;            // the decider's probability after depth 0; NaN without a decider
    std::vector<uint8_t> iterated;       // depth > 0
    std::vector<uint8_t> depth;          // the deepest depth the token ran, 0-based
    int32_t pContinueStride = 1;         // depths at which a decider may run: 1 for v1, max_iter - 1 for TaH2
    std::vector<float> pContinue;        // records x stride: the decider's probability at each depth, NaN where it did not run
    std::vector<int32_t> top0Ids;        // depth-0 logits, best first
    std::vector<float> top0Logits;
    std::vector<double> lse0;
    std::vector<int32_t> topFinalIds;    // final logits: v1 the sum of both depths' logits, TaH2 the mixture's log P (lse 0)
    std::vector<float> topFinalLogits;
    std::vector<double> lseFinal;
    int32_t nextToken = -1;
    TahTimings timings;
};

// Runs TaH (v1 and TaH2) on one llama_context holding several logical sequences, one depth after another. With D
// depths (2 for v1 and plain models, max_iter for TaH2), logical sequence s owns llama sequence ids S_d = D·s + d on
// a unified KV cache: a depth-d cell belongs to {S_d, …, S_{D-1}} and a depth-d query's first id is S_d. llama.cpp's
// mask keeps a cell for a query iff the cell has the query's first id and pos' <= pos, so a query at (p, d) sees
// exactly the cells (p' <= p, d' <= d): the duo-causal rule for any number of depths. For D = 2 these are v1's
// ids a = 2s (depth-0 cells {a, b}) and b = 2s + 1 (depth-1 cells {b}).
class TahEvaluator {
    public:
        ~TahEvaluator();
        TahEvaluator(const TahEvaluator &) = delete;
        TahEvaluator & operator=(const TahEvaluator &) = delete;

        // The evaluator shares the model parts: disposing the model first cannot free what a running step uses.
        static std::unique_ptr<TahEvaluator> create(std::shared_ptr<TahModelParts> parts, const TahContextOptions & options, TahError & error);

        // Appends tokens to a sequence (one batch, depth by depth) and optionally samples the next token.
        bool evaluate(int32_t sequence, const std::vector<llama_token> & tokens, const TahStepOptions & options,
                      TahStepResult & result, TahError & error);

        // Forgets positions >= position of a sequence, at every depth.
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
        llama_seq_id seqId(int32_t sequence, int32_t depth) const { return depthIds * sequence + depth; }
        // gives batch entry j the sequence ids of a depth-`depth` cell of `sequence`
        void assignDepth(llama_batch & batch, int32_t j, int32_t sequence, int32_t depth) const;

        std::shared_ptr<TahModelParts> partsOwner;
        TahModelParts & parts;
        TahContextOptions options;
        llama_context * ctx = nullptr;
        const llama_vocab * vocab = nullptr;
        int32_t nVocab = 0;
        int32_t nEmbd = 0;
        int32_t depthIds = 2;   // D, the sequence ids per logical sequence
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
        std::vector<int32_t> activeRows;       // the rows (batch indices) of the depth that just ran, in batch order
        std::vector<int32_t> nextRows;         // those that go one depth deeper
        // TaH2 only
        std::vector<float> tokenEmbeddings;    // E[x] of every row
        std::vector<float> activeEmbeddings;   // E[x], h_d and top-H probabilities of the active rows, for the decider
        std::vector<float> activeHidden;
        std::vector<float> activeTopProbs;
        std::vector<float> nextEmbeddings;     // E[x] and h_d of the rows that go deeper, for the updater
        std::vector<float> nextHidden;
        std::vector<double> remainingMass;     // r_d of every row
        std::vector<int32_t> mixtureSlot;      // the row's log-P accumulator in mixtures, or -1 when nobody reads it
        std::vector<float> mixtures;
        std::vector<double> activeLse;

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
        void prepareDepth1(int32_t sequence, int32_t n, TahStepResult & result);
        void combineDepth1(int32_t sequence, int32_t n, TahStepResult & result);
        bool decodeDeeper(int32_t sequence, TahStepResult & result, TahError & error);
        void startTah2(int32_t n, const std::vector<llama_token> & tokens, TahStepResult & result);
        bool afterDepthTah2(int32_t sequence, int32_t n, int32_t depth, const TahStepOptions & step, TahStepResult & result, TahError & error);
};
