"""Stage 10: the TaH table on the held-out split, computed from the exported checkpoint (not from training state).

Per held-out window (teacher forcing): next-token accuracy with depth 0 only, with every token iterating, with
the decider at the shipped threshold, and with the oracle (iterate iff depth 0 mispredicts); the share of
tokens iterated; the decider's precision and recall on depth-0 mispredictions; what depth 1 fixes and breaks.
FIM exact match on held-out one-line examples is computed by teacher forcing the target: greedy decoding
reproduces the target exactly iff every target token (and the closing <|endoftext|>) is the argmax at its step,
and while that holds the context (and so every decision) is the one greedy decoding would have.

Writes <work>/evaluation.json and <work>/engine_expectations.json (what training/engine_agreement.ts checks).
"""
import json
import sys

import numpy as np

from common import log, read_json, setup_torch, stage_args, write_json

MODES = ["depth0", "always", "decider", "oracle"]


def load_checkpoint(torch, folder):
    from export import read_safetensors
    from model import MLPIterDecider, Qwen3
    config = read_json(folder / "config.json")
    cfg = {k: config[k] for k in ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                  "num_attention_heads", "num_key_value_heads", "head_dim", "rms_norm_eps",
                                  "rope_theta", "max_position_embeddings"]}
    model = Qwen3(cfg)
    adapter_config = read_json(folder / "lora" / "adapter_config.json")
    model.add_lora(adapter_config["r"], adapter_config["lora_alpha"])
    state = {name: torch.from_numpy(array.copy()) for name, array in read_safetensors(folder / "model.safetensors").items()}
    for name, array in read_safetensors(folder / "lora" / "adapter_model.safetensors").items():
        state[name[len("base_model.model."):-len(".weight")]] = torch.from_numpy(array.copy())
    model.load_state_dict(state)
    model.eval()
    tah = read_json(folder / "tah_config.json")
    saved = torch.load(folder / "iter_decider.bin", map_location="cpu")
    init_args = {k: v for k, v in saved["init_args"].items() if k != "dtype"}
    decider = MLPIterDecider(**init_args)
    decider.load_state_dict(saved["state_dict"])
    decider.eval()
    threshold = float(np.float32(tah["iter_decider_kwargs"]["threshold"]))
    return model, decider, threshold, tah["input_updater_kwargs"]["topk"]


def tah_batch(torch, model, decider, topk, ids, lengths, threshold, targets=None):
    """Depth 0 + decider on a right-padded batch, then depth 1 under each mode. Returns numpy arrays."""
    from model import depth1
    b, t = ids.shape
    pos = torch.arange(t).expand(b, t)
    valid = pos < lengths[:, None]
    logits0, tapped, stream0 = model.run(model.embed(ids), pos, valid, 0, taps=decider.taps)
    z = decider(tapped, logits0)
    p_hard = torch.sigmoid(z)
    pred0 = logits0.argmax(-1)
    iterate = {
        "depth0": torch.zeros_like(valid),
        "always": valid,
        "decider": valid & (p_hard > threshold),
        "oracle": valid & (pred0 != targets) if targets is not None else None,
    }
    out = {"p_hard": p_hard, "pred0": pred0, "logits0": logits0, "stream0": stream0}
    for mode, mask in iterate.items():
        if mask is None:
            continue
        final = logits0 if mode == "depth0" else depth1(model, logits0, stream0, mask, topk)
        out[mode] = {"iterate": mask, "final": final}
    return out


def main():
    from model import depth1
    def options(parser):
        parser.add_argument("--threads", type=int, default=1)
        parser.add_argument("--checkpoint", help="checkpoint folder (default: the profile's export)")

    args, settings, work = stage_args(__doc__, options)
    torch = setup_torch(args.threads)
    F = torch.nn.functional
    from pathlib import Path
    folder = Path(args.checkpoint) if args.checkpoint else work / "checkpoint"
    model, decider, threshold, topk = load_checkpoint(torch, folder)
    log(f"evaluate: {folder}, threshold {threshold}")

    held = np.load(work / "heldout.npy")[:settings["eval_windows"]].astype(np.int64)
    lengths = np.load(work / "heldout_lengths.npy")[:settings["eval_windows"]]
    sweep_grid = [0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98]
    stats = {mode: {"correct": 0, "iterated": 0, "nll": 0.0} for mode in MODES}
    confusion = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    flips = {mode: {"fixed": 0, "broken": 0} for mode in MODES}
    sweep = {thr: [0, 0] for thr in sweep_grid}
    scored = 0
    expectations = []
    with torch.no_grad():
        for start in range(0, len(held), 8):
            ids = torch.from_numpy(held[start:start + 8])
            lens = torch.from_numpy(lengths[start:start + 8].astype(np.int64))
            b, t = ids.shape
            targets = torch.cat([ids[:, 1:], torch.zeros(b, 1, dtype=torch.long)], dim=1)
            scored_mask = torch.arange(t)[None, :] < (lens[:, None] - 1)
            out = tah_batch(torch, model, decider, topk, ids, lens, threshold, targets)
            wrong0 = (out["pred0"] != targets) & scored_mask
            scored += scored_mask.sum().item()
            for mode in MODES:
                final = out[mode]["final"]
                pred = final.argmax(-1)
                right = (pred == targets) & scored_mask
                stats[mode]["correct"] += right.sum().item()
                stats[mode]["iterated"] += (out[mode]["iterate"] & scored_mask).sum().item()
                nll = F.cross_entropy(final.reshape(-1, final.shape[-1]), targets.reshape(-1), reduction="none")
                stats[mode]["nll"] += (nll.view(b, t) * scored_mask).sum().item()
                flips[mode]["fixed"] += (wrong0 & right).sum().item()
                flips[mode]["broken"] += (~wrong0 & scored_mask & ~right).sum().item()
            decided = out["decider"]["iterate"] & scored_mask
            confusion["tp"] += (decided & wrong0).sum().item()
            confusion["fp"] += (decided & ~wrong0).sum().item()
            confusion["fn"] += (~decided & wrong0).sum().item()
            confusion["tn"] += (~decided & ~wrong0 & scored_mask).sum().item()
            for thr in sweep_grid:
                mask = (torch.arange(t)[None, :] < lens[:, None]) & (out["p_hard"] > thr)
                final = depth1(model, out["logits0"], out["stream0"], mask, topk)
                sweep[thr][0] += ((final.argmax(-1) == targets) & scored_mask).sum().item()
                sweep[thr][1] += (mask & scored_mask).sum().item()
            # What the engine must reproduce, per position of each window (decider mode).
            final = out["decider"]["final"]
            top2 = torch.topk(final, 2, dim=-1)
            for row in range(b):
                n = int(lens[row])
                expectations.append({
                    "tokens": ids[row, :n].tolist(),
                    "pHard": [round(v, 6) for v in out["p_hard"][row, :n].tolist()],
                    "iterated": [int(v) for v in out["decider"]["iterate"][row, :n].tolist()],
                    "predFinal": top2.indices[row, :n, 0].tolist(),
                    "marginFinal": [round(v, 5) for v in (top2.values[row, :n, 0] - top2.values[row, :n, 1]).tolist()],
                    "predDepth0": out["pred0"][row, :n].tolist(),
                })
            if start % 80 == 0:
                log(f"evaluate: window {start}/{len(held)}")

    fim = read_json(work / "fim_heldout.json")
    fim_stats = {mode: {"exact": 0, "token_correct": 0, "tokens": 0, "iterated": 0} for mode in MODES}
    fim_expect = []
    with torch.no_grad():
        for example in fim:
            seq = example["prompt"] + example["target"][:-1]
            ids = torch.tensor([seq])
            n = len(seq)
            targets = torch.tensor([seq[1:] + [example["target"][-1]]])
            span = torch.zeros(1, n, dtype=torch.bool)
            span[0, len(example["prompt"]) - 1:] = True
            out = tah_batch(torch, model, decider, topk, ids, torch.tensor([n]), threshold, targets)
            for mode in MODES:
                pred = out[mode]["final"].argmax(-1)
                right = (pred == targets) & span
                fim_stats[mode]["exact"] += int(right.sum().item() == span.sum().item())
                fim_stats[mode]["token_correct"] += right.sum().item()
                fim_stats[mode]["tokens"] += span.sum().item()
                fim_stats[mode]["iterated"] += (out[mode]["iterate"] & span).sum().item()
            fim_expect.append({"prompt": example["prompt"], "target": example["target"], "middle": example["middle"],
                               "exactDecider": bool(((out["decider"]["final"].argmax(-1) == targets) | ~span).all())})

    table = {
        "windows": len(held), "scored_tokens": scored, "threshold": threshold,
        "modes": {mode: {"accuracy": s["correct"] / scored, "iterated_share": s["iterated"] / scored,
                         "cross_entropy": s["nll"] / scored,
                         "fixed": flips[mode]["fixed"], "broken": flips[mode]["broken"]} for mode, s in stats.items()},
        "decider": {"precision": confusion["tp"] / max(1, confusion["tp"] + confusion["fp"]),
                    "recall": confusion["tp"] / max(1, confusion["tp"] + confusion["fn"]), **confusion},
        "mispredicted_share_depth0": (confusion["tp"] + confusion["fn"]) / scored,
        "sweep": [{"threshold": thr, "accuracy": c / scored, "iterated_share": it / scored}
                  for thr, (c, it) in sweep.items()],
        "fim": {"examples": len(fim), **{mode: {"exact_match": s["exact"] / len(fim),
                                                "token_accuracy": s["token_correct"] / max(1, s["tokens"]),
                                                "iterated_share": s["iterated"] / max(1, s["tokens"])}
                                         for mode, s in fim_stats.items()}},
    }
    write_json(work / "evaluation.json", table)
    write_json(work / "engine_expectations.json", {"threshold": threshold, "windows": expectations, "fim": fim_expect})
    print(markdown(table))


def markdown(table):
    names = {"depth0": "depth 0 only", "always": "every token iterates", "decider": f"decider (threshold {table['threshold']:g})",
             "oracle": "oracle (iterate iff depth 0 mispredicts)"}
    lines = ["| policy | next-token accuracy | cross-entropy (nats) | tokens iterated | fixed / broken by depth 1 | FIM exact match | FIM token accuracy |",
             "|---|---|---|---|---|---|---|"]
    for mode in MODES:
        m, f = table["modes"][mode], table["fim"][mode]
        lines.append(f"| {names[mode]} | {100 * m['accuracy']:.2f}% | {m['cross_entropy']:.3f} | "
                     f"{100 * m['iterated_share']:.1f}% | {m['fixed']} / {m['broken']} | "
                     f"{100 * f['exact_match']:.1f}% | {100 * f['token_accuracy']:.1f}% |")
    d = table["decider"]
    lines.append("")
    lines.append(f"Decider on depth-0 mispredictions ({100 * table['mispredicted_share_depth0']:.1f}% of tokens): "
                 f"precision {100 * d['precision']:.1f}%, recall {100 * d['recall']:.1f}%. "
                 f"{table['scored_tokens']} held-out tokens in {table['windows']} windows; "
                 f"{table['fim']['examples']} FIM examples.")
    lines.append("")
    lines.append("| threshold | " + " | ".join(f"{s['threshold']:g}" for s in table["sweep"]) + " |")
    lines.append("|---|" + "---|" * len(table["sweep"]))
    lines.append("| accuracy | " + " | ".join(f"{100 * s['accuracy']:.2f}%" for s in table["sweep"]) + " |")
    lines.append("| iterated | " + " | ".join(f"{100 * s['iterated_share']:.1f}%" for s in table["sweep"]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
