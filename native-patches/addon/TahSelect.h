#pragma once

#include <cstdint>
#include <vector>

// One entry of a ranked logits row.
struct TahCandidate {
    int32_t id;
    float logit;
};

// The k largest logits of a row, best first; equal logits rank the smaller id first (as torch.topk on CPU does).
void tahTopK(const float * logits, int32_t nVocab, int32_t k, std::vector<TahCandidate> & out);

// softmax of the candidates' logits (no temperature), written to weights[0..n).
void tahSoftmax(const std::vector<TahCandidate> & candidates, int32_t n, std::vector<float> & weights);

// Index of the largest logit; the first one on ties (torch.argmax).
int32_t tahArgmax(const float * logits, int32_t nVocab);
