#include "TahSelect.h"

#include <algorithm>
#include <cmath>

namespace {

// "a ranks above b": a larger logit, or the same logit and a smaller id.
bool ranksAbove(const TahCandidate & a, const TahCandidate & b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

}

void tahTopK(const float * logits, int32_t nVocab, int32_t k, std::vector<TahCandidate> & out) {
    const int32_t n = std::min(k, nVocab);
    out.clear();
    if (n <= 0) {
        return;
    }
    out.reserve(n);

    // a heap whose front is the weakest kept candidate: one comparison for most of the vocabulary
    for (int32_t id = 0; id < nVocab; id++) {
        const TahCandidate c{id, logits[id]};
        if ((int32_t) out.size() < n) {
            out.push_back(c);
            std::push_heap(out.begin(), out.end(), ranksAbove);
        } else if (ranksAbove(c, out.front())) {
            std::pop_heap(out.begin(), out.end(), ranksAbove);
            out.back() = c;
            std::push_heap(out.begin(), out.end(), ranksAbove);
        }
    }
    std::sort_heap(out.begin(), out.end(), ranksAbove);
}

void tahSoftmax(const std::vector<TahCandidate> & candidates, int32_t n, std::vector<float> & weights) {
    weights.resize(n);
    if (n <= 0) {
        return;
    }
    const double maxLogit = candidates[0].logit;
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        sum += std::exp((double) candidates[i].logit - maxLogit);
    }
    for (int32_t i = 0; i < n; i++) {
        weights[i] = (float) (std::exp((double) candidates[i].logit - maxLogit) / sum);
    }
}

int32_t tahArgmax(const float * logits, int32_t nVocab) {
    int32_t best = 0;
    for (int32_t i = 1; i < nVocab; i++) {
        if (logits[i] > logits[best]) {
            best = i;
        }
    }
    return best;
}
