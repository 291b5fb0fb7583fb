"""int8 storage of the encoder's weight matrices: symmetric, one float32 scale per output row (torch's layout:
a Linear's weight row = one output feature; the embedding's row = one token).

Two uses:
  round: the final weights of a run. Every 2-D matrix is replaced in ckpt.pt by its int8 value times its scale
         (float32, exactly what the exported graphs' Cast and Mul compute), and the scales are kept beside the weights
         (`int8_scales`). export.py then stores these matrices as int8 + scale in weights.bin (half the bytes of
         fp16), and the golden fixtures are computed from the same dequantised values.
  pack:  a checkpoint carried to the GPU machine (the 64 MiB carry limit): matrices as int8 tensors, the rest as
         they were; load_state() restores float32 weights from either form.

python3 kernels/train/quant8.py round --run RUN          # in place: RUN/ckpt.pt
python3 kernels/train/quant8.py pack --ckpt IN --out OUT
"""
import argparse
import json
import os

import torch

SCALES = "int8_scales"


def fake_int8(w):
    """Per-row symmetric int8 quantisation of a 2-D tensor and back, in float32 -> (dequantised, int8, scales)."""
    w = w.float()
    scale = w.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127.0
    q = torch.round(w / scale).clamp(-127, 127) + 0.0     # + 0.0: no -0.0 codes (Cast(int8) * scale gives +0.0)
    return q * scale, q.to(torch.int8), scale.squeeze(1)


def is_matrix(v):
    return v.is_floating_point() and v.dim() == 2


def quantise(state):
    """Every matrix of a state dict -> ({name: dequantised float32}, {name: int8 codes}, {name: scales})."""
    deq, codes, scales = {}, {}, {}
    for k, v in state.items():
        if is_matrix(v):
            deq[k], codes[k], scales[k] = fake_int8(v)
    return deq, codes, scales


def round_state(state):
    """-> (state with every matrix dequantised from int8 in float32, {name: scales}); other tensors unchanged."""
    deq, _, scales = quantise(state)
    return {k: deq.get(k, v) for k, v in state.items()}, scales


def rel_change(before, after, names):
    """{name: |after - before| / |before|} (Frobenius norms) of the named tensors."""
    return {k: float((after[k].float() - before[k].float()).norm() / before[k].float().norm().clamp(min=1e-12))
            for k in names}


def pack(ck):
    """A checkpoint whose matrices are int8 tensors (scales in ck[SCALES]); load_state() reverses it."""
    _, codes, scales = quantise(ck["model"])
    return dict(ck, model={k: codes.get(k, v) for k, v in ck["model"].items()}, **{SCALES: scales})


def load_state(ck):
    """Float32 weights of a checkpoint, packed (int8 tensors) or not."""
    scales = ck.get(SCALES, {})
    return {k: (v.float() * scales[k][:, None].float() if v.dtype == torch.int8 else
                v.float() if v.is_floating_point() else v) for k, v in ck["model"].items()}


def int8_table(ck):
    """{name: (int8 codes, float32 scales)} of a rounded (or packed) checkpoint's matrices, checked to give its
    weights exactly."""
    out, state = {}, load_state(ck)
    for k, s in ck.get(SCALES, {}).items():
        w = state[k]
        q = torch.round(w / s[:, None]).clamp(-127, 127)
        if not torch.equal(q * s[:, None], w):
            raise ValueError(f"{k}: the weights are not int8 codes times the stored scales")
        out[k] = (q.to(torch.int8), s.float())
    return out


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("round")
    r.add_argument("--run", required=True, help="a run folder with ckpt.pt (rewritten in place)")
    p = sub.add_parser("pack")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.cmd == "pack":
        ck = torch.load(args.ckpt, map_location="cpu")
        torch.save(pack(ck), args.out)
        print(json.dumps(dict(out=args.out, bytes=os.path.getsize(args.out))))
        return
    path = os.path.join(args.run, "ckpt.pt")
    ck = torch.load(path, map_location="cpu")
    state, scales = round_state(load_state(ck))
    rel = rel_change(ck["model"], state, scales)
    torch.save(dict(ck, model=state, **{SCALES: scales}), path)
    n_q = sum(state[k].numel() for k in scales)
    n_all = sum(v.numel() for v in state.values() if v.is_floating_point())
    summary = dict(params=n_all, int8=n_q, int8_share=round(n_q / n_all, 4), max_rel_change=round(max(rel.values()), 5))
    json.dump(dict(summary, rel_change=rel), open(os.path.join(args.run, "int8_round.json"), "w"), indent=1)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
