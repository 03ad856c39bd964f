"""Stages 4-7: pretraining, mismatch labels, TaH step 1 (backbone + LoRA, oracle iteration), TaH step 2 (decider).

Every training stage is resumable: it checkpoints every few minutes and stops cleanly after --max-minutes, and
the next invocation continues from the last checkpoint; a stage whose final checkpoint exists is skipped.
Batches are a pure function of (seed, step), so a resumed run sees the same data as an uninterrupted one.

    nice -n 10 /usr/bin/python3 training/train.py pretrain --profile full [--threads 1] [--max-minutes 110]
"""
import argparse
import math
import sys
import time

import numpy as np

from common import log, profile, read_json, setup_torch, work_dir, write_json

SEED = 1234
SAVE_EVERY_MINUTES = 10
TOPK = 100  # soft-embedding top-k and decider logit features, as in the released recipes


def model_config(settings, vocab_size):
    cfg = dict(settings["model"])
    cfg.update({"vocab_size": vocab_size, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
                "max_position_embeddings": settings["seq_len"], "tie_word_embeddings": True})
    return cfg


def batch_rows(n_rows, batch_size, step, seed):
    """Row indices of a step: consecutive slices of a per-epoch permutation."""
    out = []
    for i in range(batch_size):
        g = step * batch_size + i
        perm = np.random.RandomState(seed + g // n_rows).permutation(n_rows)
        out.append(perm[g % n_rows])
    return np.array(out)


def lr_at(step, total, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def make_optimizer(torch, named_params, lr):
    decay = [p for n, p in named_params if p.dim() >= 2]
    no_decay = [p for n, p in named_params if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.95), eps=1e-8)


class Run:
    """Shared scaffolding: device, data, checkpoint/resume, logging, the time budget."""

    def __init__(self, args, stage):
        self.args = args
        self.stage = stage
        self.torch = setup_torch(args.threads)
        self.device = "cuda" if self.torch.cuda.is_available() and not args.cpu else "cpu"
        self.settings = profile(args.profile)
        self.work = work_dir(args.profile)
        self.train_rows = np.load(self.work / "train.npy", mmap_mode="r")
        self.vocab_size = len(read_json(self.work / "tokenizer" / "tokenizer.json")["model"]["vocab"]) + \
            len(read_json(self.work / "tokenizer" / "tokenizer.json")["added_tokens"])
        self.cfg = model_config(self.settings, self.vocab_size)
        self.started = time.time()

    def batch(self, rows):
        return self.torch.from_numpy(np.asarray(self.train_rows[rows], dtype=np.int64)).to(self.device)

    def out_of_time(self):
        return (time.time() - self.started) / 60 > self.args.max_minutes

    def save(self, path, state):
        tmp = path.with_suffix(".tmp")
        self.torch.save(state, tmp)
        tmp.replace(path)

    def load(self, path):
        return self.torch.load(path, map_location=self.device)

    def finished(self, final_path):
        """A stage whose final output exists is done; rerunning the recipe skips it."""
        if final_path.exists():
            log(f"{self.stage}: exists,", final_path)
            return True
        return False

    def depth0(self, model, ids, taps=()):
        """Depth 0 over whole training rows (no padding): (logits, tapped streams, stream for depth 1)."""
        b, t = ids.shape
        pos = self.torch.arange(t, device=self.device).expand(b, t)
        valid = self.torch.ones(b, t, dtype=self.torch.bool, device=self.device)
        return model.run(model.embed(ids), pos, valid, 0, taps=taps)


def new_model(run):
    from model import Qwen3
    run.torch.manual_seed(SEED)
    return Qwen3(run.cfg).to(run.device)


def train_loop(run, model, params, loss_fn, hp, ckpt_path, final_path, extra_state=None):
    """AdamW + warmup/cosine; loss_fn(step) -> (loss tensor, tokens, metrics dict)."""
    torch = run.torch
    optimizer = make_optimizer(torch, params, hp["lr"])
    state = {"step": 0, "elapsed_s": 0.0, "tokens": 0, "history": []}
    if ckpt_path.exists():
        saved = run.load(ckpt_path)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state = saved["state"]
        log(f"{run.stage}: resumed at step {state['step']} ({state['elapsed_s'] / 60:.1f} min so far)")
    last_save = time.time()
    window = {"loss": 0.0, "n": 0, "tokens": 0, "t": time.time()}
    metrics_sum = {}
    model.train()
    while state["step"] < hp["steps"]:
        step = state["step"]
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, hp["steps"], hp["lr"], hp["warmup"])
        torch.manual_seed(SEED + step)  # dropout masks reproducible across resumes
        loss, tokens, metrics = loss_fn(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in params], 1.0)
        optimizer.step()
        state["step"] += 1
        state["tokens"] += tokens
        window["loss"] += loss.item()
        window["n"] += 1
        window["tokens"] += tokens
        for key, value in metrics.items():
            metrics_sum[key] = metrics_sum.get(key, 0.0) + value
        if state["step"] % run.args.log_every == 0 or state["step"] == hp["steps"]:
            dt = time.time() - window["t"]
            entry = {"step": state["step"], "loss": window["loss"] / window["n"], "tok_per_s": window["tokens"] / dt,
                     "lr": optimizer.param_groups[0]["lr"]}
            entry.update({k: v / window["n"] for k, v in metrics_sum.items()})
            state["history"].append(entry)
            state["elapsed_s"] += dt
            log(f"{run.stage}: " + " ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                            for k, v in entry.items()))
            window = {"loss": 0.0, "n": 0, "tokens": 0, "t": time.time()}
            metrics_sum = {}
        done = state["step"] >= hp["steps"]
        if done or run.out_of_time() or time.time() - last_save > SAVE_EVERY_MINUTES * 60:
            snapshot = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "state": state,
                        "cfg": run.cfg}
            run.save(ckpt_path, snapshot)
            last_save = time.time()
            if not done and run.out_of_time():
                log(f"{run.stage}: time budget reached at step {state['step']}/{hp['steps']}; run again to resume")
                return False
    final = {"model": model.state_dict(), "state": state, "cfg": run.cfg}
    final.update(extra_state or {})
    run.save(final_path, final)
    write_json(final_path.with_suffix(".json"), {"stage": run.stage, "steps": state["step"], "tokens": state["tokens"],
                                                 "train_seconds": state["elapsed_s"], "history": state["history"]})
    log(f"{run.stage}: done, {state['tokens']} tokens in {state['elapsed_s'] / 60:.1f} min -> {final_path}")
    return True


def pretrain(args):
    run = Run(args, "pretrain")
    final_path = run.work / "pretrain.pt"
    if run.finished(final_path):
        return
    torch, F = run.torch, run.torch.nn.functional
    model = new_model(run)
    hp = run.settings["pretrain"]
    n_rows = len(run.train_rows)
    from model import count
    log(f"pretrain: {count(model.parameters())} parameters, {n_rows} rows, device {run.device}, threads {args.threads}")

    def loss_fn(step):
        ids = run.batch(batch_rows(n_rows, hp["batch_size"], step, SEED))
        logits, _, _ = run.depth0(model, ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        return loss, ids.numel(), {}

    train_loop(run, model, list(model.named_parameters()), loss_fn, hp, run.work / "pretrain.ckpt", final_path)


def label(args):
    """Greedy mismatch labels of the pretrained model on the rows TaH step 1 trains on (tah-inference.md §7)."""
    run = Run(args, "label")
    out = run.work / "labels.npz"
    if run.finished(out):
        return
    torch = run.torch
    model = new_model(run)
    model.load_state_dict(run.load(run.work / "pretrain.pt")["model"])
    model.eval()
    n = min(run.settings["label_rows"], len(run.train_rows))
    rows = np.sort(np.random.RandomState(SEED + 100).permutation(len(run.train_rows))[:n])
    labels = np.zeros((n, run.settings["seq_len"]), dtype=np.uint8)
    with torch.no_grad():
        for start in range(0, n, 16):
            ids = run.batch(rows[start:start + 16])
            logits, _, _ = run.depth0(model, ids)
            wrong = (logits[:, :-1].argmax(-1) != ids[:, 1:]).to(torch.uint8)
            labels[start:start + len(ids), :-1] = wrong.cpu().numpy()
            if start % 800 == 0:
                log(f"label: {start}/{n} rows")
    rate = labels[:, :-1].mean()
    np.savez(out, rows=rows, labels=labels)
    write_json(run.work / "labels.json", {"rows": int(n), "tokens": int(labels[:, :-1].size),
                                          "mispredicted_share": float(rate)})
    log(f"label: {n} rows, {rate:.3f} of tokens mispredicted by the pretrained model")


def step1(args):
    """Backbone + LoRA on the summed logits, iterating exactly the labelled (mispredicted) tokens."""
    run = Run(args, "step1")
    final_path = run.work / "step1.pt"
    if run.finished(final_path):
        return
    torch, F = run.torch, run.torch.nn.functional
    from model import depth1
    model = new_model(run)
    model.load_state_dict(run.load(run.work / "pretrain.pt")["model"])
    lora = run.settings["lora"]
    torch.manual_seed(SEED + 1)
    model.add_lora(lora["r"], lora["alpha"])
    model.to(run.device)
    data = np.load(run.work / "labels.npz")
    rows, labels = data["rows"], data["labels"]
    hp = run.settings["step1"]

    def loss_fn(step):
        pick = batch_rows(len(rows), hp["batch_size"], step, SEED + 200)
        ids = run.batch(rows[pick])
        iterate = torch.from_numpy(labels[pick].astype(bool)).to(run.device)
        logits0, _, stream0 = run.depth0(model, ids)
        final = depth1(model, logits0, stream0, iterate, TOPK)
        loss = F.cross_entropy(final[:, :-1].reshape(-1, final.shape[-1]), ids[:, 1:].reshape(-1))
        with torch.no_grad():
            target = ids[:, 1:]
            d0 = (logits0[:, :-1].argmax(-1) == target).float().mean().item()
            fin = (final[:, :-1].argmax(-1) == target).float().mean().item()
        return loss, ids.numel(), {"acc_d0": d0, "acc_oracle": fin, "iter_share": iterate[:, :-1].float().mean().item()}

    train_loop(run, model, list(model.named_parameters()), loss_fn, hp, run.work / "step1.ckpt", final_path,
               {"lora": lora})


def load_step1(run):
    torch = run.torch
    model = new_model(run)
    saved = run.load(run.work / "step1.pt")
    model.add_lora(saved["lora"]["r"], saved["lora"]["alpha"])
    model.load_state_dict(saved["model"])
    model.to(run.device)
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
    return model, saved["lora"]


def decider_args(run, threshold):
    d = run.settings["decider"]
    return {"topk": TOPK, "hidden_states_size": run.cfg["hidden_size"], "hidden_states_layer_nums": d["taps"],
            "hidden_dims": d["hidden_dims"], "expansion_factor": 4, "dropout_rate": 0.1, "normalize_input": False,
            "threshold": threshold, "max_iter": 2}


def step2(args):
    """The decider on the frozen step-1 model: BCE-with-logits against "depth 0 mispredicts", with pos_weight."""
    run = Run(args, "step2")
    final_path = run.work / "step2.pt"
    if run.finished(final_path):
        return
    torch, F = run.torch, run.torch.nn.functional
    from model import MLPIterDecider, count
    model, _ = load_step1(run)
    torch.manual_seed(SEED + 2)
    decider = MLPIterDecider(**decider_args(run, 0.5)).to(run.device)
    log(f"step2: decider {count(decider.parameters())} parameters")
    hp = run.settings["step2"]
    n_rows = len(run.train_rows)
    taps = decider.taps

    def features(step):
        ids = run.batch(batch_rows(n_rows, hp["batch_size"], step, SEED + 300))
        with torch.no_grad():
            logits0, tapped, _ = run.depth0(model, ids, taps)
            # Labels from the frozen step-1 backbone itself (see README: why not the step-0 labels).
            target = (logits0[:, :-1].argmax(-1) != ids[:, 1:]).float()
        return {k: v[:, :-1] for k, v in tapped.items()}, logits0[:, :-1], target

    # pos_weight as in the recipe, set from the data: negatives / positives of the first batches.
    positives = sum(features(-1 - i)[2].mean().item() for i in range(4)) / 4
    pos_weight = torch.tensor((1 - positives) / positives, device=run.device)
    log(f"step2: mispredicted share {positives:.3f}, pos_weight {pos_weight.item():.3f}")

    def loss_fn(step):
        tapped, logits0, target = features(step)
        z = decider(tapped, logits0)
        loss = F.binary_cross_entropy_with_logits(z, target, pos_weight=pos_weight)
        with torch.no_grad():
            pred = z > 0
            tp = (pred & (target > 0)).sum().item()
            precision = tp / max(1, pred.sum().item())
            recall = tp / max(1, (target > 0).sum().item())
        return loss, target.numel(), {"precision@0.5": precision, "recall@0.5": recall}

    done = train_loop(run, decider, list(decider.named_parameters()), loss_fn, hp, run.work / "step2.ckpt",
                      run.work / "step2.raw.pt", {"pos_weight": pos_weight.item()})
    if not done:
        return
    decider.eval()
    threshold, sweep = choose_threshold(run, model, decider)
    saved = run.load(run.work / "step2.raw.pt")
    saved.update({"threshold": threshold, "sweep": sweep, "init_args": decider_args(run, threshold)})
    run.save(final_path, saved)
    write_json(run.work / "threshold.json", {"threshold": threshold, "sweep": sweep,
                                             "pos_weight": saved["pos_weight"]})
    log(f"step2: shipping threshold {threshold}")


def choose_threshold(run, model, decider):
    """Pick the threshold that maximises next-token accuracy on training rows (never the held-out split)."""
    torch = run.torch
    from model import depth1
    n_rows = len(run.train_rows)
    rows = batch_rows(n_rows, 64, 10_000, SEED + 400)
    grid = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98]
    totals = {thr: [0, 0, 0] for thr in grid}
    with torch.no_grad():
        for start in range(0, len(rows), 16):
            ids = run.batch(rows[start:start + 16])
            logits0, tapped, stream0 = run.depth0(model, ids, decider.taps)
            p_hard = torch.sigmoid(decider(tapped, logits0))
            for thr in grid:
                iterate = p_hard > thr
                final = depth1(model, logits0, stream0, iterate, TOPK)
                totals[thr][0] += (final[:, :-1].argmax(-1) == ids[:, 1:]).sum().item()
                totals[thr][1] += iterate[:, :-1].sum().item()
                totals[thr][2] += ids[:, 1:].numel()
    sweep = [{"threshold": thr, "accuracy": c / n, "iterated_share": it / n} for thr, (c, it, n) in totals.items()]
    for entry in sweep:
        log(f"step2: threshold {entry['threshold']}: accuracy {entry['accuracy']:.4f}, "
            f"iterated {entry['iterated_share']:.3f}")
    best = max(sweep, key=lambda e: (round(e["accuracy"], 4), e["threshold"]))
    return best["threshold"], sweep


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stage", choices=["pretrain", "label", "step1", "step2"])
    parser.add_argument("--profile", default="full")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (others share this machine)")
    parser.add_argument("--max-minutes", type=float, default=110, help="stop and checkpoint after this long")
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--cpu", action="store_true", help="ignore a GPU")
    args = parser.parse_args()
    {"pretrain": pretrain, "label": label, "step1": step1, "step2": step2}[args.stage](args)


if __name__ == "__main__":
    sys.exit(main())
