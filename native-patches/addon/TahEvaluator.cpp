#include "TahEvaluator.h"

#include "llama-ext.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

namespace {

using Clock = std::chrono::steady_clock;

double elapsedUs(Clock::time_point since) {
    return std::chrono::duration<double, std::micro>(Clock::now() - since).count();
}

llama_seq_id depth0Id(int32_t sequence) { return 2 * sequence; }
llama_seq_id depth1Id(int32_t sequence) { return 2 * sequence + 1; }

bool decodeFailure(int32_t rc, TahError & error) {
    switch (rc) {
        case 1: return error.fail("contextFull", "the KV cache is full: no room for this batch (raise the context size or shorten the prompt)");
        case 2: return error.fail("aborted", "aborted");
        default: return error.fail("internal", "llama_decode failed with code " + std::to_string(rc));
    }
}

}

TahEvaluator::TahEvaluator(std::shared_ptr<TahModelParts> modelParts, const TahContextOptions & contextOptions)
    : partsOwner(std::move(modelParts)), parts(*partsOwner), options(contextOptions) {}

TahEvaluator::~TahEvaluator() {
    if (tokenBatch.pos != nullptr) llama_batch_free(tokenBatch);
    if (embdBatch.pos != nullptr) llama_batch_free(embdBatch);
    if (ctx != nullptr) llama_free(ctx);
}

std::unique_ptr<TahEvaluator> TahEvaluator::create(std::shared_ptr<TahModelParts> modelParts, const TahContextOptions & options, TahError & error) {
    if (options.sequences < 1 || 2 * options.sequences > llama_max_parallel_sequences()) {
        error.fail("invalidRequest", "sequences must be between 1 and " + std::to_string(llama_max_parallel_sequences() / 2));
        return nullptr;
    }
    if (options.batchSize < 1 || options.threads < 1 || options.positionsPerSequence < 1 ||
        options.kvCells < options.positionsPerSequence) {
        error.fail("invalidRequest", "invalid context options (batch size, threads and positions must be positive; KV cells >= positions)");
        return nullptr;
    }

    std::unique_ptr<TahEvaluator> evaluator(new TahEvaluator(std::move(modelParts), options));
    TahModelParts & parts = evaluator->parts;
    llama_context_params params = llama_context_default_params();
    params.n_ctx = options.kvCells;
    params.n_seq_max = 2 * options.sequences;
    // llama.cpp sizes its output buffer for at least n_seq_max rows and asserts they fit in a batch
    params.n_batch = std::max(options.batchSize, params.n_seq_max);
    params.n_ubatch = params.n_batch;
    params.kv_unified = true;
    params.n_threads = options.threads;
    params.n_threads_batch = options.threads;
    params.no_perf = true;
    params.type_k = options.kvType;
    params.type_v = options.kvType;
    params.flash_attn_type = options.flashAttention < 0 ? LLAMA_FLASH_ATTN_TYPE_AUTO
        : options.flashAttention == 0 ? LLAMA_FLASH_ATTN_TYPE_DISABLED : LLAMA_FLASH_ATTN_TYPE_ENABLED;
    params.abort_callback = abortCallback;
    params.abort_callback_data = evaluator.get();

    evaluator->ctx = llama_init_from_model(parts.backbone(), params);
    if (evaluator->ctx == nullptr) {
        error.fail("internal", "cannot create a context of " + std::to_string(options.kvCells) + " KV cells (out of memory?)");
        return nullptr;
    }
    evaluator->vocab = llama_model_get_vocab(parts.backbone());
    evaluator->nVocab = llama_vocab_n_tokens(evaluator->vocab);
    evaluator->nEmbd = llama_model_n_embd(parts.backbone());

    if (parts.isTah()) {
        // the decider's load checked its taps and top-k against this backbone
        for (const int32_t tap : parts.decider()->settings().taps) {
            llama_set_embeddings_layer_inp(evaluator->ctx, (uint32_t) tap, true);
        }
        std::string reason;
        if (!evaluator->softEmbedding.init(parts.backbone(), reason)) {
            error.fail("modelFile", reason);
            return nullptr;
        }
    }

    evaluator->tokenBatch = llama_batch_init((int32_t) options.batchSize, 0, 2);
    evaluator->embdBatch = llama_batch_init((int32_t) options.batchSize, evaluator->nEmbd, 1);
    evaluator->sequenceStates.resize(options.sequences);
    if (parts.isTah() && options.preallocateDepth1 && !evaluator->preallocateDepth1(error)) {
        return nullptr;
    }
    return evaluator;
}

// llama.cpp reserves compute buffers for token-input graphs without adapters. A depth-1 graph takes float
// embeddings and carries the LoRA, so its first full batch makes the scheduler reallocate its buffers in the middle
// of a run, which on Vulkan (lavapipe) crashed now and then. One full-size depth-1 batch here, before any real work,
// grows them once; its cells are removed again.
bool TahEvaluator::preallocateDepth1(TahError & error) {
    const int32_t n = (int32_t) std::min(options.batchSize, options.kvCells);
    embdBatch.n_tokens = n;
    std::fill(embdBatch.embd, embdBatch.embd + (size_t) n * nEmbd, 0.0f);
    for (int32_t j = 0; j < n; j++) {
        embdBatch.pos[j] = j;
        embdBatch.n_seq_id[j] = 1;
        embdBatch.seq_id[j][0] = depth1Id(0);
        embdBatch.logits[j] = 1;
    }
    TahTimings unused;
    const bool attached = setLora(true, unused);
    const int32_t rc = attached ? llama_decode(ctx, embdBatch) : -1;
    llama_memory_seq_rm(llama_get_memory(ctx), depth1Id(0), -1, -1);
    if (!attached || !setLora(false, unused) || rc != 0) {
        return error.fail("internal", "cannot allocate the compute buffers of a depth-1 batch of " + std::to_string(n) + " tokens");
    }
    return true;
}

bool TahEvaluator::abortCallback(void * data) {
    return static_cast<TahEvaluator *>(data)->aborted.load();
}

llama_pos TahEvaluator::nextPosition(int32_t sequence) const {
    return sequenceStates[sequence].nextPos;
}

bool TahEvaluator::removeFrom(int32_t sequence, llama_pos position, TahError & error) {
    if (sequence < 0 || sequence >= (int32_t) sequenceStates.size() || position < 0) {
        return error.fail("invalidRequest", "invalid sequence or position");
    }
    Sequence & seq = sequenceStates[sequence];
    if (position >= seq.nextPos) {
        return true;
    }
    llama_memory_t memory = llama_get_memory(ctx);
    // depth-1 cells carry only the second id, so removing both ids removes both depths
    llama_memory_seq_rm(memory, depth0Id(sequence), position, -1);
    llama_memory_seq_rm(memory, depth1Id(sequence), position, -1);
    seq.nextPos = position;
    seq.hasLastLogits = false;
    return true;
}

bool TahEvaluator::setLora(bool attached, TahTimings & timings) {
    if (attached == loraAttached || parts.lora() == nullptr) {
        return true;
    }
    const auto start = Clock::now();
    llama_adapter_lora * adapter = parts.lora();
    float scale = 1.0f;  // llama.cpp multiplies by alpha / rank itself
    const int32_t rc = attached
        ? llama_set_adapters_lora(ctx, &adapter, 1, &scale)
        : llama_set_adapters_lora(ctx, nullptr, 0, nullptr);
    timings.loraUs += elapsedUs(start);
    if (rc != 0) {
        return false;
    }
    loraAttached = attached;
    return true;
}

void TahEvaluator::rollbackStep(int32_t sequence) {
    // drop whatever a failed step left behind, so the sequence stays as it was before the step
    llama_memory_t memory = llama_get_memory(ctx);
    llama_memory_seq_rm(memory, depth0Id(sequence), sequenceStates[sequence].nextPos, -1);
    llama_memory_seq_rm(memory, depth1Id(sequence), sequenceStates[sequence].nextPos, -1);
    sequenceStates[sequence].hasLastLogits = false;
}

bool TahEvaluator::decode(llama_batch & batch, int32_t sequence, TahError & error) {
    const int32_t rc = llama_decode(ctx, batch);
    if (rc == 0) {
        return true;
    }
    rollbackStep(sequence);
    return decodeFailure(rc, error);
}

void TahEvaluator::recordRow(const float * logits, std::vector<TahCandidate> & candidates, int32_t topN,
                             std::vector<int32_t> & ids, std::vector<float> & values, std::vector<double> & lse, int32_t row) {
    if ((int32_t) candidates.size() < topN) {
        tahTopK(logits, nVocab, topN, candidates);
    }
    for (int32_t k = 0; k < topN; k++) {
        ids[(size_t) row * topN + k] = candidates[k].id;
        values[(size_t) row * topN + k] = candidates[k].logit;
    }
    lse[row] = logSumExp.compute(logits, nVocab, candidates[0].id, candidates[0].logit, options.threads);
}

bool TahEvaluator::evaluate(int32_t sequence, const std::vector<llama_token> & tokens, const TahStepOptions & step,
                            TahStepResult & result, TahError & error) {
    if (!checkStep(sequence, tokens, error)) {
        return false;
    }
    aborted.store(false);
    startResult((int32_t) tokens.size(), step, result);
    if (!tokens.empty() && !runStep(sequence, tokens, step, result, error)) {
        return false;
    }
    return !step.sample || sampleNext(sequence, step, result, error);
}

bool TahEvaluator::checkStep(int32_t sequence, const std::vector<llama_token> & tokens, TahError & error) const {
    if (sequence < 0 || sequence >= (int32_t) sequenceStates.size()) {
        return error.fail("invalidRequest", "no sequence " + std::to_string(sequence));
    }
    const Sequence & seq = sequenceStates[sequence];
    const int32_t n = (int32_t) tokens.size();
    if (n > (int32_t) options.batchSize) {
        return error.fail("invalidRequest", std::to_string(n) + " tokens exceed the batch size of " + std::to_string(options.batchSize));
    }
    if ((int64_t) seq.nextPos + n > (int64_t) options.positionsPerSequence) {
        return error.fail("contextFull", "the context is full: the sequence holds " + std::to_string(seq.nextPos) + " tokens, " +
                          std::to_string(n) + " more do not fit its " + std::to_string(options.positionsPerSequence));
    }
    for (const llama_token token : tokens) {
        if (token < 0 || token >= nVocab) {
            return error.fail("invalidRequest", "token id " + std::to_string(token) + " is outside the vocabulary of " + std::to_string(nVocab));
        }
    }
    return true;
}

void TahEvaluator::startResult(int32_t n, const TahStepOptions & step, TahStepResult & result) const {
    result = TahStepResult{};
    result.recordFrom = std::clamp(step.recordFrom, 0, n);
    result.records = n - result.recordFrom;
    result.topN = std::clamp(step.recordTopN, 1, nVocab);
    const size_t records = (size_t) result.records;
    const size_t topN = (size_t) result.topN;
    result.pHard.assign(records, NAN);
    result.iterated.assign(records, 0);
    result.top0Ids.resize(records * topN);
    result.top0Logits.resize(records * topN);
    result.lse0.resize(records);
    result.topFinalIds.resize(records * topN);
    result.topFinalLogits.resize(records * topN);
    result.lseFinal.resize(records);
}

bool TahEvaluator::wantsLogits(int32_t i, int32_t n, const TahStepResult & result) const {
    return parts.isTah() || i >= result.recordFrom || i == n - 1;
}

bool TahEvaluator::runStep(int32_t sequence, const std::vector<llama_token> & tokens, const TahStepOptions & step,
                           TahStepResult & result, TahError & error) {
    Sequence & seq = sequenceStates[sequence];
    const int32_t n = (int32_t) tokens.size();
    if (!setLora(false, result.timings)) {
        return error.fail("internal", "cannot detach the LoRA adapter");
    }
    if (!decodeDepth0(sequence, tokens, result, error)) {
        return false;
    }
    rankRows(n, result);
    iteratedRows.clear();
    if (parts.isTah() && !decide(sequence, n, step, result, error)) {
        return false;
    }
    result.iteratedCount = (int32_t) iteratedRows.size();

    const bool lastIterates = !iteratedRows.empty() && iteratedRows.back() == n - 1;
    if (!lastIterates) {
        const float * logits = llama_get_logits_ith(ctx, n - 1);
        seq.lastLogits.assign(logits, logits + nVocab);
    }
    if (!iteratedRows.empty() && !runDepth1(sequence, n, result, error)) {
        return false;
    }
    copyUniteratedRecords(result);
    seq.nextPos += n;
    seq.hasLastLogits = true;
    return true;
}

bool TahEvaluator::decodeDepth0(int32_t sequence, const std::vector<llama_token> & tokens, TahStepResult & result, TahError & error) {
    const Sequence & seq = sequenceStates[sequence];
    const int32_t n = (int32_t) tokens.size();
    tokenBatch.n_tokens = n;
    for (int32_t i = 0; i < n; i++) {
        tokenBatch.token[i] = tokens[i];
        tokenBatch.pos[i] = seq.nextPos + i;
        tokenBatch.n_seq_id[i] = 2;
        tokenBatch.seq_id[i][0] = depth0Id(sequence);
        tokenBatch.seq_id[i][1] = depth1Id(sequence);
        tokenBatch.logits[i] = wantsLogits(i, n, result);
    }
    const auto start = Clock::now();
    if (!decode(tokenBatch, sequence, error)) {
        return false;
    }
    result.timings.depth0Us = elapsedUs(start);
    return true;
}

// the top candidates of every row with logits: the decider's features, the soft embedding's support, the records
void TahEvaluator::rankRows(int32_t n, TahStepResult & result) {
    const auto start = Clock::now();
    const bool tah = parts.isTah();
    const int32_t deciderK = tah ? parts.decider()->settings().logitTopK : 0;
    const int32_t softK = tah ? parts.decider()->settings().softEmbeddingTopK : 0;
    const int32_t rankK = std::min(nVocab, std::max({result.topN, deciderK, softK}));
    rowCandidates.resize(n);
    deciderTopValues.resize((size_t) n * deciderK);
    for (int32_t i = 0; i < n; i++) {
        if (!wantsLogits(i, n, result)) {
            continue;
        }
        const float * logits = llama_get_logits_ith(ctx, i);
        tahTopK(logits, nVocab, rankK, rowCandidates[i]);
        for (int32_t k = 0; k < deciderK; k++) {
            deciderTopValues[(size_t) i * deciderK + k] = rowCandidates[i][k].logit;
        }
        if (i >= result.recordFrom) {
            recordRow(logits, rowCandidates[i], result.topN, result.top0Ids, result.top0Logits, result.lse0, i - result.recordFrom);
        }
    }
    result.timings.selectUs += elapsedUs(start);
}

// P(hard) of every row, and the rows that iterate
bool TahEvaluator::decide(int32_t sequence, int32_t n, const TahStepOptions & step, TahStepResult & result, TahError & error) {
    const auto start = Clock::now();
    std::vector<const float *> taps;
    for (const int32_t tap : parts.decider()->settings().taps) {
        taps.push_back(llama_get_embeddings_layer_inp(ctx, (uint32_t) tap));
    }
    deciderZ.resize(n);
    std::string reason;
    if (!parts.decider()->forward(taps, deciderTopValues.data(), n, options.threads, deciderZ.data(), reason)) {
        rollbackStep(sequence);
        return error.fail("internal", reason);
    }
    const bool canIterate = parts.decider()->settings().maxIter >= 2;
    for (int32_t i = 0; i < n; i++) {
        const double pHard = 1.0 / (1.0 + std::exp(-(double) deciderZ[i]));
        const bool iterate = canIterate && pHard > step.threshold;
        if (iterate) {
            iteratedRows.push_back(i);
        }
        if (i >= result.recordFrom) {
            result.pHard[i - result.recordFrom] = (float) pHard;
            result.iterated[i - result.recordFrom] = iterate;
        }
    }
    result.timings.deciderUs = elapsedUs(start);
    return true;
}

// rows that did not iterate: their final logits are their depth-0 logits
void TahEvaluator::copyUniteratedRecords(TahStepResult & result) const {
    const size_t topN = (size_t) result.topN;
    for (int32_t r = 0; r < result.records; r++) {
        if (!result.iterated[r]) {
            std::copy_n(&result.top0Ids[r * topN], topN, &result.topFinalIds[r * topN]);
            std::copy_n(&result.top0Logits[r * topN], topN, &result.topFinalLogits[r * topN]);
            result.lseFinal[r] = result.lse0[r];
        }
    }
}

bool TahEvaluator::sampleNext(int32_t sequence, const TahStepOptions & step, TahStepResult & result, TahError & error) {
    Sequence & seq = sequenceStates[sequence];
    if (!seq.hasLastLogits) {
        return error.fail("invalidRequest", "nothing to sample from: the sequence has no evaluated token");
    }
    const auto start = Clock::now();
    if (seq.sampler == nullptr || !(seq.sampler->params() == step.sampling)) {
        seq.sampler = std::make_unique<TahSampler>(step.sampling);
    }
    result.nextToken = seq.sampler->sample(seq.lastLogits.data(), nVocab);
    result.timings.sampleUs = elapsedUs(start);
    return true;
}

bool TahEvaluator::runDepth1(int32_t sequence, int32_t n, TahStepResult & result, TahError & error) {
    Sequence & seq = sequenceStates[sequence];
    const int32_t softK = parts.decider()->settings().softEmbeddingTopK;
    const size_t topN = (size_t) result.topN;
    const int32_t nIter = (int32_t) iteratedRows.size();

    auto start = Clock::now();
    iteratedLogits.resize((size_t) nIter * nVocab);
    softIds.resize(softK);
    embdBatch.n_tokens = nIter;
    for (int32_t j = 0; j < nIter; j++) {
        const int32_t i = iteratedRows[j];
        const float * logits = llama_get_logits_ith(ctx, i);
        std::copy_n(logits, nVocab, &iteratedLogits[(size_t) j * nVocab]);

        const std::vector<TahCandidate> & candidates = rowCandidates[i];
        tahSoftmax(candidates, softK, softWeights);
        for (int32_t k = 0; k < softK; k++) {
            softIds[k] = candidates[k].id;
        }
        softEmbedding.mix(softIds.data(), softWeights.data(), softK, embdBatch.embd + (size_t) j * nEmbd);
        embdBatch.pos[j] = seq.nextPos + i;
        embdBatch.n_seq_id[j] = 1;
        embdBatch.seq_id[j][0] = depth1Id(sequence);
        embdBatch.logits[j] = 1;
    }
    result.timings.selectUs += elapsedUs(start);

    if (!setLora(true, result.timings)) {
        rollbackStep(sequence);
        return error.fail("internal", "cannot attach the LoRA adapter");
    }
    start = Clock::now();
    if (!decode(embdBatch, sequence, error)) {
        return false;
    }
    result.timings.depth1Us = elapsedUs(start);

    start = Clock::now();
    for (int32_t j = 0; j < nIter; j++) {
        const int32_t i = iteratedRows[j];
        float * finalLogits = &iteratedLogits[(size_t) j * nVocab];
        const float * depth1Logits = llama_get_logits_ith(ctx, j);
        for (int32_t v = 0; v < nVocab; v++) {
            finalLogits[v] += depth1Logits[v];
        }
        if (i >= result.recordFrom) {
            finalCandidates.clear();
            recordRow(finalLogits, finalCandidates, (int32_t) topN, result.topFinalIds, result.topFinalLogits, result.lseFinal,
                      i - result.recordFrom);
        }
        if (i == n - 1) {
            seq.lastLogits.assign(finalLogits, finalLogits + nVocab);
        }
    }
    result.timings.selectUs += elapsedUs(start);
    return true;
}
