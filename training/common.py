"""Shared paths, profiles and small helpers for the training recipe.

Everything large (npm tarballs, the corpus, token files, checkpoints) lives under
~/.cache/tah-copilot/training/<profile>/, never in the repository. A profile fixes every size and
step count, so a run is reproducible from its name (seeds are pinned too).
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

TRAINING_DIR = Path(__file__).resolve().parent
REPO_DIR = TRAINING_DIR.parent
CACHE_ROOT = Path(os.environ.get("TAH_TRAINING_CACHE", Path.home() / ".cache" / "tah-copilot" / "training"))
# npm tarballs are shared by all profiles: the corpus is the same, only its use differs.
NPM_CACHE = CACHE_ROOT / "npm"

SPECIAL_TOKENS = [
    # Qwen3's order and "special" flags: control tokens first; <think> and the FIM/repo markers are
    # plain added tokens in Qwen's tokenizer.json (llama.cpp then types them USER_DEFINED).
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<think>", False),
    ("</think>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
]

PROFILES = {
    # A few minutes end to end: proves that every stage runs and that the converter and the engine accept
    # the result. The numbers it produces mean nothing.
    "tiny": {
        "corpus_max_mb_per_package": 0.25,
        "python_max_mb": 0.5,
        "vocab_size": 1024,
        "bpe_train_mb": 2,
        "seq_len": 256,
        "model": {"hidden_size": 64, "intermediate_size": 192, "num_hidden_layers": 4, "num_attention_heads": 2,
                  "num_key_value_heads": 1, "head_dim": 32},
        "pretrain": {"batch_size": 8, "steps": 60, "lr": 3e-3, "warmup": 10},
        "label_rows": 64,
        "step1": {"batch_size": 8, "steps": 30, "lr": 1e-3, "warmup": 5},
        "step2": {"batch_size": 8, "steps": 40, "lr": 1e-3, "warmup": 5},
        "lora": {"r": 4, "alpha": 8},
        "decider": {"hidden_dims": [32, 32, 32], "taps": [0, 1, 2, 3]},
        "eval_windows": 16,
        "fim_examples": 24,
    },
    # The shipped model: sized from measured CPU throughput (README, "Sizing").
    "full": {
        "corpus_max_mb_per_package": 2.0,
        "python_max_mb": 9.0,
        "vocab_size": 4096,
        "bpe_train_mb": 8,
        "seq_len": 512,
        "model": {"hidden_size": 256, "intermediate_size": 768, "num_hidden_layers": 6, "num_attention_heads": 4,
                  "num_key_value_heads": 2, "head_dim": 64},
        "pretrain": {"batch_size": 16, "steps": 1000, "lr": 1.5e-3, "warmup": 100},
        "label_rows": 2000,
        "step1": {"batch_size": 16, "steps": 150, "lr": 5e-4, "warmup": 15},
        "step2": {"batch_size": 16, "steps": 150, "lr": 1e-3, "warmup": 15},
        "lora": {"r": 16, "alpha": 32},
        "decider": {"hidden_dims": [128, 128, 128, 128], "taps": [0, 2, 3, 5]},
        "eval_windows": 400,
        "fim_examples": 400,
    },
}


def profile(name):
    if name not in PROFILES:
        sys.exit(f"unknown profile {name!r}; one of {', '.join(PROFILES)}")
    return PROFILES[name]


def stage_args(description, add_options=None):
    """The command line all stage scripts share (--profile, plus add_options(parser)): (args, settings, work)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--profile", default="full")
    if add_options is not None:
        add_options(parser)
    args = parser.parse_args()
    return args, profile(args.profile), work_dir(args.profile)


def work_dir(profile_name):
    path = CACHE_ROOT / profile_name
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path, value):
    # Write then rename, so that a killed run never leaves a half-written file that a later stage trusts.
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)


def read_json(path):
    return json.loads(Path(path).read_text())


def log(*parts):
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


def setup_torch(threads):
    """Import torch with a fixed thread count (BLAS included) before any work starts."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import torch
    torch.set_num_threads(threads)
    return torch
