"""Masked-token pretraining alone, for a model trained from scratch in several device calls (run 12: a larger
encoder). The shipped tokenizer is reused; every train file of the shard feeds one token stream; the loss is
train.py's (16-segment sequences, memory on, the answer of the later segments often only in earlier ones).

Run by the pretrain_mlm stage of reproduce.py (one call a process); by hand, from kernels/train:
python3 -m lens_train.pretrain_mlm --config CONFIG.json --tokenizer ../model/tokenizer.json \
    --data SHARD --out DIR [--resume CKPT | --init-model MODEL_DIR] [--deadline EPOCH] [--attn-probe flex,masked] [--smoke]
On several GPUs: python3 -m torch.distributed.run --standalone --nproc_per_node N -m lens_train.pretrain_mlm ...
(one process a GPU, gradients averaged each step: train.pretrain); rank 0 writes the files.
Writes DIR/ckpt_mlm.pt (weights rounded to fp16, with the config and the call number) and DIR/mlm_log.json; a
later call goes on with --resume (the learning-rate schedule restarts its warm-up; the optimiser state is not
carried; the seed is the config's plus the call number, so every call draws its own batches). A checkpoint with
fewer layers than the config is grown first (model.grow_depth: the same function, new layers start as identities);
a packed checkpoint (quant8.py pack: int8 matrices) is read as well. With "recall_p" in the config's mlm part,
that share of the sequences also carries synthetic recall facts (data.fact_bank: 'name = value' in an early
segment, the value asked for "recall_gap" (default 4) or more segments later, up to "recall_n" (4) facts a
sequence; "recall_shuffle" draws each value apart from its name, so only the memory can know it), their loss weighted
by "recall_w"; "reset_beta" sets every gate logit first (0: all gates at 0.5). A config with "mem_proj" grafted
onto a checkpoint without memory projections draws them from normal(0, "mem_init"). DIR/val_stream.npy: the stream's last
2 M tokens (training text) for a quick probe of the checkpoint (evaluate.py --ckpt ckpt_mlm.pt).
"""
import argparse
import json
import os
import time

import numpy as np
import torch

from .data import fact_bank, load_shard_or_synthetic, tokenize_files
from .model import Config, Encoder, grow_depth
from .quant8 import load_state
from .train import DEV, flops_per_token, pretrain, seed_all, world


def init_distributed():
    """Join the torchrun group when launched by it (WORLD_SIZE > 1): NCCL on GPUs, gloo on the CPU."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    import torch.distributed as dist
    if DEV == "cuda":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group("nccl" if DEV == "cuda" else "gloo")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--data", default=".data")
    ap.add_argument("--out", required=True)
    ap.add_argument("--resume", default="")
    ap.add_argument("--init-model", default="", help="start from a model folder's weights (its query graph: "
                    "chunks.load_model_dir), e.g. kernels/model, as call 0")
    ap.add_argument("--deadline", type=float, default=0, help="epoch seconds by which ckpt_mlm.pt must be written")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--attn-probe", default="", help="attention paths to time (comma-separated); the fastest trains")
    args = ap.parse_args()
    init_distributed()
    rank, ws = world()
    T0 = time.time()
    conf = json.load(open(args.config))
    cfg, tc = Config(**conf["model"]), conf["train"]
    prev = torch.load(args.resume, map_location="cpu") if args.resume else None
    if args.init_model:                                    # a shipped model as the start: its weights, call 0
        from .chunks import load_model_dir
        m = load_model_dir(args.init_model)
        prev = dict(model=m.state_dict(), config=m.cfg.to_dict(), call=-1)
    call = (prev.get("call", 1) + 1) if prev else 0          # 12a wrote no call number: it was call 0, 12b call 1
    seed = tc["seed"] + call                                 # each call draws its own batches
    seed_all(seed)
    os.makedirs(args.out, exist_ok=True)
    from .tok import Tokenizer
    tok = Tokenizer.from_file(args.tokenizer)
    if rank == 0:
        tok.save(os.path.join(args.out, "tokenizer.json"))
    files, _, _ = load_shard_or_synthetic(args.data)
    train_files = [f for f in files if f["split"] == "train"]
    if args.smoke:
        train_files = train_files[::max(1, len(train_files) // 200)]
    train_files.sort(key=lambda f: (f["pkg"], f["path"]))  # package order: the memory spans related files
    stream = np.concatenate([ids for ids, _ in tokenize_files(tok, [f["text"] for f in train_files])])
    if rank == 0:
        print(f"stream {len(stream)} tokens from {len(train_files)} files ({time.time() - T0:.0f}s), "
              f"{ws} process(es)", flush=True)

    model = Encoder(cfg)
    if prev:
        state, n_prev = load_state(prev), prev["config"]["n_layers"]
        if n_prev != cfg.n_layers:                         # a deeper encoder grown from the checkpoint's layers
            state = grow_depth(state, n_prev, cfg.n_layers)
            print(f"grew {n_prev} -> {cfg.n_layers} layers", flush=True)
        fresh = [k for k in model.state_dict() if k not in state]
        if fresh:                                          # memory projections new to this checkpoint (mem_proj)
            assert all(".attn.wqkv_m." in k for k in fresh), fresh
            std = tc["mlm"].get("mem_init", 0.02)
            for k in fresh:
                state[k] = torch.randn_like(model.state_dict()[k]) * std
            print(f"new memory projections, normal(0, {std}): {len(fresh)} matrices", flush=True)
        model.load_state_dict(state)
    if tc["mlm"].get("reset_beta") is not None:            # reopen every memory gate: sigmoid(beta) for all heads
        with torch.no_grad():
            for b in model.blocks:
                b.attn.beta.fill_(tc["mlm"]["reset_beta"])
    model = model.to(DEV)
    n_params = sum(p.numel() for p in model.parameters())
    n_body = n_params - model.tok.weight.numel()
    mc = dict(tc["mlm"], seed=seed, attn_probe=[a for a in args.attn_probe.split(",") if a])
    if mc.get("recall_p"):                                 # recall facts: name = value early, asked for later
        mc["facts"] = fact_bank(tok, seed=seed)
    if rank == 0:                                          # for evaluate.py --ckpt ckpt_mlm.pt (training text)
        np.save(os.path.join(args.out, "val_stream.npy"), stream[-2_000_000:])
    if args.smoke:
        mc["max_steps"] = 3
    t_end = (args.deadline - 15) if args.deadline else time.time() + 60 * mc["minutes"]
    log = []
    res = pretrain(model, cfg, mc, stream, log, t_end)
    if rank != 0:                                          # the ranks hold the same weights: rank 0 reports
        return
    res.update(card=torch.cuda.get_device_name() if DEV == "cuda" else "cpu", params=n_params, call=call, seed=seed,
               stream_tokens=int(len(stream)), resumed_from=args.resume or args.init_model or None,
               tokens_per_s=res["tokens"] / max(res["sec"], 1e-9))
    res["mfu_vs_989tflops"] = res["tokens_per_s"] / ws * flops_per_token(cfg, n_body) / 989e12   # per GPU
    res["gates"] = model.gates().tolist()
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save(dict(model=state, config=cfg.to_dict(), call=call), os.path.join(args.out, "ckpt_mlm.pt"))
    json.dump(dict(summary=res, log=log), open(os.path.join(args.out, "mlm_log.json"), "w"), indent=1)
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
