"""Stage 3: token files.

- train.npy [N, seq_len] uint16: training files cut into chunks at line boundaries, half of the chunks turned
  into fill-in-the-middle examples (PSM, as Qwen2.5-Coder: <|fim_prefix|>pre<|fim_suffix|>suf<|fim_middle|>mid),
  every chunk followed by <|endoftext|>, shuffled and packed into rows.
- heldout.npy [M, seq_len] uint16 (+ lengths): held-out files as plain text, each file cut into windows that
  start at the file's start (rows are right-padded; a window never spans two files).
- fim_heldout.json: one-line completion examples from held-out files (a whole line masked, prefix and suffix
  trimmed by tokens the way the copilot's completion prompt does).
"""
import json
import random
import sys

import numpy as np

from bpe import Tokenizer
from common import log, stage_args, write_json

SEED = 1234
FIM_RATE = 0.5


def chunks_of(text, max_chars):
    """Cut at line boundaries into pieces of at most max_chars (a longer single line is cut anyway)."""
    pieces, current = [], ""
    for line in text.splitlines(keepends=True):
        while len(line) > max_chars:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:max_chars])
            line = line[max_chars:]
        if len(current) + len(line) > max_chars and current:
            pieces.append(current)
            current = ""
        current += line
    if current:
        pieces.append(current)
    return pieces


def fim_split(text, rng):
    """Pick a middle: the rest of a line after a cursor (what inline completion asks most), 1-3 whole lines,
    or a random character span (Qwen2.5-Coder's kind)."""
    lines = text.splitlines(keepends=True)
    kind = rng.random()
    if kind < 1 / 3 and lines:
        index = rng.randrange(len(lines))
        start = sum(len(line) for line in lines[:index])
        body = lines[index].rstrip("\n")
        cut = start + rng.randint(0, len(body))
        return text[:cut], text[cut:start + len(body)], text[start + len(body):]
    if kind < 2 / 3 and lines:
        index = rng.randrange(len(lines))
        n = rng.randint(1, 3)
        start = sum(len(line) for line in lines[:index])
        end = start + sum(len(line) for line in lines[index:index + n])
        return text[:start], text[start:end], text[end:]
    a, b = sorted(rng.randint(0, len(text)) for _ in range(2))
    return text[:a], text[a:b], text[b:]


def main():
    args, settings, work = stage_args(__doc__)
    if (work / "fim_heldout.json").exists():
        log("data: exists,", work)
        return
    seq_len = settings["seq_len"]
    tok = Tokenizer.load(work / "tokenizer" / "tokenizer.json")
    special = tok.special
    eot, pre, suf, mid = (special[s] for s in ("<|endoftext|>", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"))
    rng = random.Random(SEED)

    with open(work / "corpus.jsonl") as source:
        docs = [json.loads(line) for line in source]
    train_docs = [d for d in docs if d["split"] == "train"]
    held_docs = [d for d in docs if d["split"] == "heldout"]

    # ~3.3 bytes per token on code: chunks of this many characters mostly fit one row.
    max_chars = int(seq_len * 3.0)
    examples, n_fim = [], 0
    for doc in train_docs:
        for piece in chunks_of(doc["text"], max_chars):
            if rng.random() < FIM_RATE and len(piece) > 20:
                prefix, middle, suffix = fim_split(piece, rng)
                ids = [pre] + tok.encode(prefix) + [suf] + tok.encode(suffix) + [mid] + tok.encode(middle) + [eot]
                n_fim += 1
            else:
                ids = tok.encode(piece) + [eot]
            examples.append(ids)
    rng.shuffle(examples)
    stream = np.fromiter((t for ids in examples for t in ids), dtype=np.uint16)
    n_rows = len(stream) // seq_len
    train = stream[:n_rows * seq_len].reshape(n_rows, seq_len)
    np.save(work / "train.npy", train)
    log(f"data: train {n_rows} rows x {seq_len} = {train.size} tokens from {len(examples)} chunks ({n_fim} FIM)")

    rows, lengths = [], []
    for doc in held_docs:
        ids = tok.encode(doc["text"])
        for start in range(0, len(ids), seq_len):
            window = ids[start:start + seq_len]
            if len(window) < 16:
                continue
            lengths.append(len(window))
            rows.append(window + [eot] * (seq_len - len(window)))
    held = np.array(rows, dtype=np.uint16)
    # Windows in a fixed shuffled order, so that "the first N" is a fair sample of all held-out files.
    order = list(range(len(rows)))
    random.Random(SEED + 1).shuffle(order)
    np.save(work / "heldout.npy", held[order])
    np.save(work / "heldout_lengths.npy", np.array(lengths, dtype=np.int32)[order])
    log(f"data: held-out {len(rows)} windows, {sum(lengths)} tokens")

    fim_rng = random.Random(SEED + 2)
    fim = []
    candidates = []
    for doc in held_docs:
        lines = doc["text"].splitlines(keepends=True)
        offset = 0
        for line in lines:
            body = line.rstrip("\n")
            stripped = body.strip()
            if 8 <= len(stripped) <= 80 and line.endswith("\n"):
                indent = len(body) - len(body.lstrip())
                candidates.append((doc["path"], doc["text"], offset + indent, offset + len(body)))
            offset += len(line)
    fim_rng.shuffle(candidates)
    for path, text, start, end in candidates[:settings["fim_examples"]]:
        # Prompt plus a one-line answer stays within the trained context.
        prefix_ids = tok.encode(text[:start])[-(seq_len * 11 // 16):]
        suffix_ids = tok.encode(text[end:])[:seq_len * 3 // 16]
        middle = text[start:end]
        prompt = [pre] + prefix_ids + [suf] + suffix_ids + [mid]
        fim.append({"path": path, "prompt": prompt, "target": tok.encode(middle) + [eot], "middle": middle})
    write_json(work / "fim_heldout.json", fim)
    log(f"data: {len(fim)} held-out FIM examples")


if __name__ == "__main__":
    sys.exit(main())
