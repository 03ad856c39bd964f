"""Checks the duo-causal implementation: one batched depth-0 pass plus one packed depth-1 pass (what training and
evaluation use) must equal token-by-token processing with a growing cache (tah-inference.md §5.3).

    /usr/bin/python3 training/selftest.py
"""
import sys

from common import setup_torch

torch = setup_torch(1)
from model import Qwen3, depth1, soft_embedding  # noqa: E402


def main():
    torch.manual_seed(0)
    cfg = {"vocab_size": 300, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
           "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "rms_norm_eps": 1e-6,
           "rope_theta": 10000.0}
    model = Qwen3(cfg).double()
    model.add_lora(4, 8)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.2)  # a LoRA that matters
    model.double().eval()
    b, t, topk = 2, 11, 20
    ids = torch.randint(0, 300, (b, t))
    iterate = torch.rand(b, t) < 0.4
    with torch.no_grad():
        pos = torch.arange(t).expand(b, t)
        logits0, _, stream0 = model.run(model.embed(ids), pos, torch.ones(b, t, dtype=torch.bool), 0)
        batched = depth1(model, logits0, stream0, iterate, topk)

        worst = 0.0
        for row in range(b):
            past0, past1 = [], []
            for p in range(t):
                one = torch.tensor([[p]])
                valid = torch.ones(1, 1, dtype=torch.bool)
                l0, _, s0 = model.run(model.embed(ids[row:row + 1, p:p + 1]), one, valid, 0, past=past0)
                past0.append(s0)
                final = l0
                if iterate[row, p]:
                    e1 = soft_embedding(model, l0, topk)
                    l1, _, s1 = model.run(e1, one, valid, 1, past=past0 + past1, lora=True)
                    past1.append(s1)
                    final = l0 + l1
                worst = max(worst, (final[0, 0] - batched[row, p]).abs().max().item())
    print(f"max |batched - sequential| = {worst:.3g} over {b}x{t} positions, {int(iterate.sum())} iterating")
    assert worst < 1e-9, "the packed depth-1 pass is not the sequential computation"


if __name__ == "__main__":
    sys.exit(main())
