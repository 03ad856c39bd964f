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

// Upstream clamps each mixture weight before its log (tah2-inference.md §2.5), so a vanishing weight stays finite.
constexpr double minMixtureWeight = 1e-10;

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
    const int32_t depthIds = modelParts->generation() == 2 ? modelParts->tah2()->settings().maxIter : 2;
    if (options.sequences < 1 || (size_t) depthIds * options.sequences > llama_max_parallel_sequences()) {
        error.fail("invalidRequest", "sequences must be between 1 and " + std::to_string(llama_max_parallel_sequences() / depthIds) +
                   " (one llama.cpp sequence per depth each)");
        return nullptr;
    }
    if (options.batchSize < 1 || options.threads < 1 || options.positionsPerSequence < 1 ||
        options.kvCells < options.positionsPerSequence) {
        error.fail("invalidRequest", "invalid context options (batch size, threads and positions must be positive; KV cells >= positions)");
        return nullptr;
    }

    std::unique_ptr<TahEvaluator> evaluator(new TahEvaluator(std::move(modelParts), options));
    TahModelParts & parts = evaluator->parts;
    evaluator->depthIds = depthIds;
    llama_context_params params = llama_context_default_params();
    params.n_ctx = options.kvCells;
    params.n_seq_max = depthIds * options.sequences;
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
    // TaH2's decider and updater read each depth's final-normed hidden state: llama.cpp's per-token embeddings
    if (parts.generation() == 2) {
        params.embeddings = true;
        params.pooling_type = LLAMA_POOLING_TYPE_NONE;
    }
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
        for (const int32_t tap : parts.generation() == 1 ? parts.decider()->settings().taps : std::vector<int32_t>{}) {
            llama_set_embeddings_layer_inp(evaluator->ctx, (uint32_t) tap, true);
        }
        std::string reason;
        if (!evaluator->softEmbedding.init(parts.backbone(), reason)) {
            error.fail("modelFile", reason);
            return nullptr;
        }
    }

    evaluator->tokenBatch = llama_batch_init((int32_t) options.batchSize, 0, depthIds);
    evaluator->embdBatch = llama_batch_init((int32_t) options.batchSize, evaluator->nEmbd, depthIds);
    evaluator->sequenceStates.resize(options.sequences);
    if (parts.isTah() && options.preallocateDepth1 && !evaluator->preallocateDepth1(error)) {
        return nullptr;
    }
    return evaluator;
}

// llama.cpp reserves compute buffers for token-input graphs without adapters. A deeper graph takes float
// embeddings (and in v1 carries the LoRA), so its first full batch makes the scheduler reallocate its buffers in the
// middle of a run, which on Vulkan (lavapipe) crashed now and then. One full-size depth-1 batch here, before any real
// work, grows them once; its cells are removed again.
bool TahEvaluator::preallocateDepth1(TahError & error) {
    const int32_t n = (int32_t) std::min(options.batchSize, options.kvCells);
    embdBatch.n_tokens = n;
    std::fill(embdBatch.embd, embdBatch.embd + (size_t) n * nEmbd, 0.0f);
    for (int32_t j = 0; j < n; j++) {
        embdBatch.pos[j] = j;
        assignDepth(embdBatch, j, 0, 1);
        embdBatch.logits[j] = 1;
    }
    TahTimings unused;
    const bool attached = setLora(true, unused);
    const int32_t rc = attached ? llama_decode(ctx, embdBatch) : -1;
    for (int32_t d = 1; d < depthIds; d++) {
        llama_memory_seq_rm(llama_get_memory(ctx), seqId(0, d), -1, -1);
    }
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
    // a cell of depth d carries the ids of depths d .. D-1, so removing every id removes every depth
    for (int32_t d = 0; d < depthIds; d++) {
        llama_memory_seq_rm(memory, seqId(sequence, d), position, -1);
    }
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
    for (int32_t d = 0; d < depthIds; d++) {
        llama_memory_seq_rm(memory, seqId(sequence, d), sequenceStates[sequence].nextPos, -1);
    }
    sequenceStates[sequence].hasLastLogits = false;
}

void TahEvaluator::assignDepth(llama_batch & batch, int32_t j, int32_t sequence, int32_t depth) const {
    batch.n_seq_id[j] = depthIds - depth;
    for (int32_t d = depth; d < depthIds; d++) {
        batch.seq_id[j][d - depth] = seqId(sequence, d);
    }
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
    result.depth.assign(records, 0);
    result.pContinueStride = parts.generation() == 2 ? depthIds - 1 : 1;
    result.pContinue.assign(records * (size_t) result.pContinueStride, NAN);
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

// Depth 0 over the whole batch, then each deeper depth over the rows that go on, as the references do: a row's
// depth d+1 needs its own depth d (and every earlier row's depth <= d+1, all in earlier or the same decodes).
bool TahEvaluator::runStep(int32_t sequence, const std::vector<llama_token> & tokens, const TahStepOptions & step,
                           TahStepResult & result, TahError & error) {
    Sequence & seq = sequenceStates[sequence];
    const int32_t n = (int32_t) tokens.size();
    const bool tah2 = parts.generation() == 2;
    if (!setLora(false, result.timings)) {
        return error.fail("internal", "cannot detach the LoRA adapter");
    }
    if (!decodeDepth0(sequence, tokens, result, error)) {
        return false;
    }
    activeRows.resize(n);
    for (int32_t i = 0; i < n; i++) {
        activeRows[i] = i;
    }
    if (tah2) {
        startTah2(n, tokens, result);
    } else {
        rankRows(n, result);
        iteratedRows.clear();
        if (parts.isTah() && !decide(sequence, n, step, result, error)) {
            return false;
        }
    }
    for (int32_t depth = 0;; depth++) {
        nextRows.clear();
        if (tah2) {
            if (!afterDepthTah2(sequence, n, depth, step, result, error)) {
                return false;
            }
        } else if (depth == 0) {
            prepareDepth1(sequence, n, result);
        } else {
            combineDepth1(sequence, n, result);
        }
        if (nextRows.empty()) {
            break;
        }
        activeRows.swap(nextRows);
        if (depth == 0) {
            result.iteratedCount = (int32_t) activeRows.size();
        }
        if (!decodeDeeper(sequence, result, error)) {
            return false;
        }
    }
    if (!tah2) {
        copyUniteratedRecords(result);
    }
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
        assignDepth(tokenBatch, i, sequence, 0);
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
            result.pContinue[i - result.recordFrom] = (float) pHard;
            result.iterated[i - result.recordFrom] = iterate;
            result.depth[i - result.recordFrom] = iterate ? 1 : 0;
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

// v1 after depth 0: the soft embedding of each iterated row becomes its depth-1 input
void TahEvaluator::prepareDepth1(int32_t sequence, int32_t n, TahStepResult & result) {
    Sequence & seq = sequenceStates[sequence];
    const bool lastIterates = !iteratedRows.empty() && iteratedRows.back() == n - 1;
    if (!lastIterates) {
        const float * logits = llama_get_logits_ith(ctx, n - 1);
        seq.lastLogits.assign(logits, logits + nVocab);
    }
    if (iteratedRows.empty()) {
        return;
    }
    const int32_t softK = parts.decider()->settings().softEmbeddingTopK;
    const int32_t nIter = (int32_t) iteratedRows.size();
    const auto start = Clock::now();
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
        assignDepth(embdBatch, j, sequence, 1);
        embdBatch.logits[j] = 1;
    }
    nextRows = iteratedRows;
    result.timings.selectUs += elapsedUs(start);
}

// v1 after depth 1: an iterated row's final logits are the sum of its two depths' logits
void TahEvaluator::combineDepth1(int32_t sequence, int32_t n, TahStepResult & result) {
    Sequence & seq = sequenceStates[sequence];
    const auto start = Clock::now();
    const size_t topN = (size_t) result.topN;
    for (int32_t j = 0; j < (int32_t) activeRows.size(); j++) {
        const int32_t i = activeRows[j];
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
}

// A depth >= 1 over activeRows, whose inputs prepareDepth1 / afterDepthTah2 put in embdBatch.
bool TahEvaluator::decodeDeeper(int32_t sequence, TahStepResult & result, TahError & error) {
    // v1's depth 1 runs with its LoRA; TaH2 has none, and setLora does nothing then
    if (!setLora(true, result.timings)) {
        rollbackStep(sequence);
        return error.fail("internal", "cannot attach the LoRA adapter");
    }
    const auto start = Clock::now();
    if (!decode(embdBatch, sequence, error)) {
        return false;
    }
    result.timings.depth1Us += elapsedUs(start);
    return true;
}

// TaH2 before its depth loop: every row's token embedding E[x] (the updater's and decider's anchor at every depth),
// r_0 = 1, and a log-P accumulator for each row whose mixture is read (records, and the last row for sampling).
void TahEvaluator::startTah2(int32_t n, const std::vector<llama_token> & tokens, TahStepResult & result) {
    const auto start = Clock::now();
    tokenEmbeddings.resize((size_t) n * nEmbd);
    const float one = 1.0f;
    for (int32_t i = 0; i < n; i++) {
        softEmbedding.mix(&tokens[i], &one, 1, &tokenEmbeddings[(size_t) i * nEmbd]);
    }
    remainingMass.assign(n, 1.0);
    mixtureSlot.assign(n, -1);
    int32_t slots = 0;
    for (int32_t i = 0; i < n; i++) {
        if (i >= result.recordFrom || i == n - 1) {
            mixtureSlot[i] = slots++;
        }
    }
    mixtures.resize((size_t) slots * nVocab);
    result.timings.selectUs += elapsedUs(start);
}

// TaH2 after depth `depth` ran on activeRows (batch index j = activeRows[j]'s outputs): the decider on each row
// (except at the last depth), its mixture term, and the updater's input for the rows that continue (§2.2-2.5).
bool TahEvaluator::afterDepthTah2(int32_t sequence, int32_t n, int32_t depth, const TahStepOptions & step,
                                  TahStepResult & result, TahError & error) {
    Sequence & seq = sequenceStates[sequence];
    Tah2Nets & nets = *parts.tah2();
    const int32_t nActive = (int32_t) activeRows.size();
    const bool last = depth == depthIds - 1;
    const int32_t topK = nets.settings().hiddenSize;
    const size_t topN = (size_t) result.topN;

    auto start = Clock::now();
    activeLse.resize(nActive);
    if (!last) {
        activeEmbeddings.resize((size_t) nActive * nEmbd);
        activeHidden.resize((size_t) nActive * nEmbd);
        activeTopProbs.assign((size_t) nActive * topK, 0.0f);  // zero-padded where the vocabulary is smaller than H
    }
    for (int32_t j = 0; j < nActive; j++) {
        const int32_t i = activeRows[j];
        const float * logits = llama_get_logits_ith(ctx, j);
        const bool records0 = depth == 0 && i >= result.recordFrom;
        const int32_t rankK = std::min(nVocab, std::max(last ? 1 : topK, records0 ? result.topN : 1));
        tahTopK(logits, nVocab, rankK, finalCandidates);
        activeLse[j] = logSumExp.compute(logits, nVocab, finalCandidates[0].id, finalCandidates[0].logit, options.threads);
        if (records0) {
            const int32_t r = i - result.recordFrom;
            for (size_t k = 0; k < topN; k++) {
                result.top0Ids[r * topN + k] = finalCandidates[k].id;
                result.top0Logits[r * topN + k] = finalCandidates[k].logit;
            }
            result.lse0[r] = activeLse[j];
        }
        if (!last) {
            // sorted by logit is sorted by probability; only the values are features
            const int32_t kept = std::min(topK, rankK);
            for (int32_t k = 0; k < kept; k++) {
                activeTopProbs[(size_t) j * topK + k] = (float) std::exp((double) finalCandidates[k].logit - activeLse[j]);
            }
            std::copy_n(&tokenEmbeddings[(size_t) i * nEmbd], nEmbd, &activeEmbeddings[(size_t) j * nEmbd]);
            std::copy_n(llama_get_embeddings_ith(ctx, j), nEmbd, &activeHidden[(size_t) j * nEmbd]);
        }
    }
    result.timings.selectUs += elapsedUs(start);

    if (!last) {
        start = Clock::now();
        deciderZ.resize(nActive);
        std::string reason;
        if (!nets.decide(activeEmbeddings.data(), activeHidden.data(), activeTopProbs.data(), nActive, options.threads, deciderZ.data(), reason)) {
            rollbackStep(sequence);
            return error.fail("internal", reason);
        }
        result.timings.deciderUs += elapsedUs(start);
    }

    start = Clock::now();
    nextEmbeddings.clear();
    nextHidden.clear();
    for (int32_t j = 0; j < nActive; j++) {
        const int32_t i = activeRows[j];
        const double g = last ? 0.0 : 1.0 / (1.0 + std::exp(-(double) deciderZ[j]));
        const bool goesOn = !last && g > step.threshold;
        const int32_t r = i - result.recordFrom;
        if (!last && r >= 0) {
            result.pContinue[(size_t) r * result.pContinueStride + depth] = (float) g;
            if (depth == 0) {
                result.pHard[r] = (float) g;
            }
        }
        // the stopping depth takes the whole remaining mass, a continuing one r_d (1 - g_d)
        const double weight = goesOn ? remainingMass[i] * (1.0 - g) : remainingMass[i];
        if (mixtureSlot[i] >= 0) {
            const float * logits = llama_get_logits_ith(ctx, j);
            float * mix = &mixtures[(size_t) mixtureSlot[i] * nVocab];
            const double offset = std::log(std::max(weight, minMixtureWeight)) - activeLse[j];
            for (int32_t v = 0; v < nVocab; v++) {
                const double term = (double) logits[v] + offset;
                if (depth == 0) {
                    mix[v] = (float) term;
                } else {
                    const double high = std::max((double) mix[v], term);
                    mix[v] = (float) (high + std::log1p(std::exp(std::min((double) mix[v], term) - high)));
                }
            }
        }
        if (goesOn) {
            remainingMass[i] *= g;
            nextRows.push_back(i);
            nextEmbeddings.insert(nextEmbeddings.end(), &activeEmbeddings[(size_t) j * nEmbd], &activeEmbeddings[(size_t) (j + 1) * nEmbd]);
            nextHidden.insert(nextHidden.end(), &activeHidden[(size_t) j * nEmbd], &activeHidden[(size_t) (j + 1) * nEmbd]);
            continue;
        }
        if (r >= 0) {
            result.depth[r] = (uint8_t) depth;
            result.iterated[r] = depth > 0;
            const float * mix = &mixtures[(size_t) mixtureSlot[i] * nVocab];
            tahTopK(mix, nVocab, result.topN, finalCandidates);
            for (size_t k = 0; k < topN; k++) {
                result.topFinalIds[r * topN + k] = finalCandidates[k].id;
                result.topFinalLogits[r * topN + k] = finalCandidates[k].logit;
            }
            result.lseFinal[r] = 0.0;  // the mixture is log P already
        }
        if (i == n - 1) {
            const float * mix = &mixtures[(size_t) mixtureSlot[i] * nVocab];
            seq.lastLogits.assign(mix, mix + nVocab);
        }
    }
    result.timings.selectUs += elapsedUs(start);
    if (nextRows.empty()) {
        return true;
    }

    start = Clock::now();
    const int32_t nNext = (int32_t) nextRows.size();
    std::string reason;
    if (!nets.update(nextEmbeddings.data(), nextHidden.data(), nNext, options.threads, embdBatch.embd, reason)) {
        rollbackStep(sequence);
        return error.fail("internal", reason);
    }
    embdBatch.n_tokens = nNext;
    for (int32_t j = 0; j < nNext; j++) {
        embdBatch.pos[j] = seq.nextPos + nextRows[j];
        assignDepth(embdBatch, j, sequence, depth + 1);
        embdBatch.logits[j] = 1;
    }
    result.timings.selectUs += elapsedUs(start);
    return true;
}
