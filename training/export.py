"""Stage 8: write the TaH checkpoint layout (tah-inference.md §1.2) that `tah convert` reads.

    <checkpoint>/config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
    model.safetensors, lora/adapter_config.json, lora/adapter_model.safetensors, iter_decider.bin, tah_config.json

The safetensors writer is our own (no safetensors package was installable offline): an 8-byte little-endian
header length, a JSON header of {name: {dtype, shape, data_offsets}} padded with spaces to 8 bytes, then the
raw little-endian tensor bytes in header order.
"""
import json
import shutil
import struct
import sys

from common import SPECIAL_TOKENS, log, read_json, setup_torch, stage_args, write_json

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> float32 torch tensor (written as F32, row-major)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = tensors[name].detach().to("cpu").float().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = metadata or {"format": "pt"}
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(raw)))
        out.write(raw)
        for blob in blobs:
            out.write(blob)


def read_safetensors(path):
    """Reader for the round-trip check (F32 only, which is all we write)."""
    import numpy as np
    with open(path, "rb") as source:
        n = struct.unpack("<Q", source.read(8))[0]
        header = json.loads(source.read(n))
        body = source.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(body[start:end], dtype="<f4").reshape(info["shape"])
    return out


def main():
    args, settings, work = stage_args(__doc__)
    out = work / "checkpoint"
    if (out / "tah_config.json").exists():
        log("export: exists,", out)
        return
    torch = setup_torch(1)
    step1 = torch.load(work / "step1.pt", map_location="cpu")
    step2 = torch.load(work / "step2.pt", map_location="cpu")
    cfg, lora = step1["cfg"], step1["lora"]
    tmp = work / "checkpoint.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "lora").mkdir(parents=True)

    tokenizer = read_json(work / "tokenizer" / "tokenizer.json")
    special_ids = {added["content"]: added["id"] for added in tokenizer["added_tokens"]}
    eot, im_end = special_ids["<|endoftext|>"], special_ids["<|im_end|>"]
    write_json(tmp / "config.json", {
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
        "vocab_size": cfg["vocab_size"], "hidden_size": cfg["hidden_size"],
        "intermediate_size": cfg["intermediate_size"], "num_hidden_layers": cfg["num_hidden_layers"],
        "num_attention_heads": cfg["num_attention_heads"], "num_key_value_heads": cfg["num_key_value_heads"],
        "head_dim": cfg["head_dim"], "hidden_act": "silu", "max_position_embeddings": cfg["max_position_embeddings"],
        "rms_norm_eps": cfg["rms_norm_eps"], "rope_theta": cfg["rope_theta"], "rope_scaling": None,
        "tie_word_embeddings": True, "attention_bias": False, "attention_dropout": 0.0,
        "initializer_range": 0.02, "use_cache": True, "use_sliding_window": False, "sliding_window": None,
        "max_window_layers": cfg["num_hidden_layers"], "torch_dtype": "float32",
        "bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot,
    })
    write_json(tmp / "generation_config.json", {"bos_token_id": eot, "eos_token_id": [eot, im_end],
                                                "pad_token_id": eot, "do_sample": False})
    shutil.copy(work / "tokenizer" / "tokenizer.json", tmp / "tokenizer.json")
    shutil.copy(work / "tokenizer" / "tokenizer_config.json", tmp / "tokenizer_config.json")

    backbone, adapter = {}, {}
    for name, tensor in step1["model"].items():
        if ".lora_" in name:
            # model.layers.0.self_attn.q_proj.lora_A -> PEFT's name with the adapter name stripped
            adapter[f"base_model.model.{name}.weight"] = tensor
        else:
            backbone[name] = tensor
    # Tied embeddings: Qwen3's checkpoints then carry no lm_head.weight.
    write_safetensors(tmp / "model.safetensors", backbone)
    write_safetensors(tmp / "lora" / "adapter_model.safetensors", adapter)
    write_json(tmp / "lora" / "adapter_config.json", {
        "base_model_name_or_path": "tah-code-default (the model.safetensors next to this folder)",
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": lora["r"], "lora_alpha": lora["alpha"],
        "lora_dropout": 0.0, "target_modules": LORA_TARGETS, "bias": "none", "fan_in_fan_out": False,
        "inference_mode": True, "init_lora_weights": True, "use_rslora": False, "use_dora": False,
        "modules_to_save": None, "layers_to_transform": None, "layers_pattern": None, "revision": None,
    })

    init_args = dict(step2["init_args"])
    decider_state = {k: v.clone() for k, v in step2["model"].items()}
    torch.save({"class": "MLPIterDecider", "init_args": init_args, "state_dict": decider_state},
               tmp / "iter_decider.bin")
    float32 = {"__dtype__": True, "__str__": "torch.float32"}
    write_json(tmp / "tah_config.json", {
        "max_iter": 2,
        "embedding_key": "model.embed_tokens",
        "input_updater_kwargs": {"topk": 100},
        "iter_decider": "MLPIterDecider",
        "iter_decider_kwargs": dict(init_args, dtype=float32),
        "eval_iter_decider": "iter_decider",
        "adapter": "lora",
        "adapter_kwargs": {"r": lora["r"], "lora_alpha": lora["alpha"], "lora_dropout": 0.0,
                           "target_modules": "all-linear", "bias": "none"},
        "train_loss": "NextTokenPredLoss",
        "eval_loss": "IterDeciderLoss",
        "dtype": float32,
    })

    # Round trip: what we wrote is what we trained.
    reread = read_safetensors(tmp / "model.safetensors")
    for name, tensor in backbone.items():
        assert (torch.from_numpy(reread[name].copy()) == tensor.float()).all(), name
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    sizes = {p.relative_to(out).as_posix(): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()}
    log("export:", out, json.dumps(sizes))
    assert len(SPECIAL_TOKENS) == len(tokenizer["added_tokens"])


if __name__ == "__main__":
    sys.exit(main())
