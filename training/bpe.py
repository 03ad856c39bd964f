"""Stage 2: a byte-level BPE tokenizer, trained here and written as Hugging Face tokenizer files.

Written from scratch because no tokenizer library was installable offline. It follows GPT-2/Qwen2 exactly
where it matters for llama.cpp: the GPT-2 byte -> unicode table, Qwen2's pre-tokenizer regex, merges
applied by rank. Ids: 0-255 are the byte tokens (id = byte value), then one id per merge, then the
special tokens.
"""
import json
import sys
from collections import Counter, defaultdict

import regex

from common import SPECIAL_TOKENS, log, stage_args, write_json

# Qwen2's split (tokenizer.json "Split" pre-tokenizer; llama.cpp's "qwen2" pre-tokenizer is the same regex).
PRETOKENIZE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_SPLIT = regex.compile(PRETOKENIZE)

CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


def bytes_to_unicode():
    """GPT-2's table: printable Latin-1 bytes map to themselves, the others to U+0100 onwards."""
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return table


BYTE_TO_UNICODE = bytes_to_unicode()
UNICODE_TO_BYTE = {char: byte for byte, char in BYTE_TO_UNICODE.items()}


def pretokenize(text):
    return _SPLIT.findall(text)


def train(texts, n_merges):
    """Classic BPE training over pre-tokenized words; returns merges as (left id, right id) in rank order."""
    word_counts = Counter()
    for text in texts:
        word_counts.update(pretokenize(text))
    words = [list(word.encode("utf-8")) for word in word_counts]
    freqs = list(word_counts.values())
    pair_counts = Counter()
    pair_words = defaultdict(set)
    for index, symbols in enumerate(words):
        for pair in zip(symbols, symbols[1:]):
            pair_counts[pair] += freqs[index]
            pair_words[pair].add(index)
    log(f"bpe: {len(words)} distinct words, {len(pair_counts)} pairs")

    merges = []
    for step in range(n_merges):
        if not pair_counts:
            break
        # Ties go to the smaller ids, so that training is deterministic.
        best = max(pair_counts.items(), key=lambda item: (item[1], -item[0][0], -item[0][1]))[0]
        new_id = 256 + step
        merges.append(best)
        for index in list(pair_words.pop(best, ())):
            symbols, freq = words[index], freqs[index]
            for pair in zip(symbols, symbols[1:]):
                pair_counts[pair] -= freq
                if pair_counts[pair] <= 0:
                    del pair_counts[pair]
            merged, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    merged.append(new_id)
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            words[index] = merged
            for pair in zip(merged, merged[1:]):
                pair_counts[pair] += freq
                pair_words[pair].add(index)
        pair_counts.pop(best, None)
        if step % 500 == 0:
            log(f"bpe: merge {step}/{n_merges}")
    return merges


class Tokenizer:
    """Encodes plain text (no special tokens in it) the way llama.cpp's BPE does; specials are added by id."""

    def __init__(self, token_strings, merges, specials):
        self.token_strings = token_strings  # id -> byte-unicode string (specials: their text)
        self.ids = {text: index for index, text in enumerate(token_strings)}
        self.ranks = {pair: rank for rank, pair in enumerate(merges)}  # (left string, right string) -> rank
        self.special = specials  # text -> id
        self.cache = {}

    @classmethod
    def load(cls, path):
        data = json.loads(open(path).read())
        vocab = data["model"]["vocab"]
        size = max(vocab.values()) + 1
        for added in data["added_tokens"]:
            size = max(size, added["id"] + 1)
        strings = [""] * size
        for text, index in vocab.items():
            strings[index] = text
        specials = {}
        for added in data["added_tokens"]:
            strings[added["id"]] = added["content"]
            specials[added["content"]] = added["id"]
        merges = [tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge) for merge in data["model"]["merges"]]
        return cls(strings, merges, specials)

    @property
    def vocab_size(self):
        return len(self.token_strings)

    def _bpe(self, word):
        symbols = list(word)
        while len(symbols) > 1:
            best, best_rank = None, None
            for pair in zip(symbols, symbols[1:]):
                rank = self.ranks.get(pair)
                if rank is not None and (best_rank is None or rank < best_rank):
                    best, best_rank = pair, rank
            if best is None:
                break
            merged, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    merged.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        return [self.ids[symbol] for symbol in symbols]

    def encode(self, text):
        out = []
        for piece in pretokenize(text):
            ids = self.cache.get(piece)
            if ids is None:
                ids = self._bpe("".join(BYTE_TO_UNICODE[b] for b in piece.encode("utf-8")))
                if len(self.cache) < 500_000:
                    self.cache[piece] = ids
            out.extend(ids)
        return out

    def decode_bytes(self, ids):
        out = bytearray()
        for index in ids:
            text = self.token_strings[index]
            if index in self.special.values():
                out += text.encode("utf-8")
            else:
                out += bytes(UNICODE_TO_BYTE[ch] for ch in text)
        return bytes(out)

    def decode(self, ids):
        return self.decode_bytes(ids).decode("utf-8", errors="replace")


def tokenizer_json(token_strings, merge_strings, first_special):
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": first_special + i, "content": text, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": special}
            for i, (text, special) in enumerate(SPECIAL_TOKENS)
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": PRETOKENIZE}, "behavior": "Isolated", "invert": False},
            byte_level,
        ]},
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {text: index for index, text in enumerate(token_strings)},
                  "merges": merge_strings},
    }


def tokenizer_config(first_special):
    return {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(first_special + i): {"content": text, "lstrip": False, "normalized": False, "rstrip": False,
                                     "single_word": False, "special": special}
            for i, (text, special) in enumerate(SPECIAL_TOKENS)
        },
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None,
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|endoftext|>",
        "errors": "replace",
        "model_max_length": 1_000_000,
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }


def main():
    args, settings, work = stage_args(__doc__)
    out_dir = work / "tokenizer"
    if (out_dir / "tokenizer.json").exists():
        log("tokenizer: exists,", out_dir)
        return

    # Train on a deterministic slice of the training split only (held-out files never shape the vocabulary).
    budget = settings["bpe_train_mb"] * 1e6
    texts, total = [], 0
    with open(work / "corpus.jsonl") as source:
        docs = [json.loads(line) for line in source]
    for doc in sorted((d for d in docs if d["split"] == "train"), key=lambda d: hash_key(d["path"])):
        if total >= budget:
            break
        texts.append(doc["text"])
        total += len(doc["text"])
    n_merges = settings["vocab_size"] - 256 - len(SPECIAL_TOKENS)
    log(f"bpe: training {n_merges} merges on {total / 1e6:.1f} MB")
    merges = train(texts, n_merges)

    token_strings = [BYTE_TO_UNICODE[b] for b in range(256)]
    merge_strings = []
    for left, right in merges:
        merge_strings.append(f"{token_strings[left]} {token_strings[right]}")
        token_strings.append(token_strings[left] + token_strings[right])
    first_special = len(token_strings)
    out_dir.mkdir(exist_ok=True)
    write_json(out_dir / "tokenizer_config.json", tokenizer_config(first_special))
    write_json(out_dir / "tokenizer.json", tokenizer_json(token_strings, merge_strings, first_special))

    # Round trip on held-out text: byte-level BPE must be lossless.
    tokenizer = Tokenizer.load(out_dir / "tokenizer.json")
    held = [d["text"] for d in docs if d["split"] == "heldout"][:20]
    n_bytes = sum(len(t.encode("utf-8")) for t in held)
    n_tokens = 0
    for text in held:
        ids = tokenizer.encode(text)
        n_tokens += len(ids)
        assert tokenizer.decode(ids) == text, "BPE round trip failed"
    log(f"tokenizer: vocab {tokenizer.vocab_size}, {n_bytes / max(n_tokens, 1):.2f} bytes/token on held-out sample")


def hash_key(text):
    import hashlib
    return hashlib.sha1(("bpe:" + text).encode("utf-8")).hexdigest()


if __name__ == "__main__":
    sys.exit(main())
