"""Export the trained encoder to ONNX (CONTRACT.md): encoder, encoder_dense, query, lens; fp32 and fp16.
All graphs share one external weights file `weights.bin` (identical tensors stored once, by content). Run 5 on:
a float32 graph's weight that is exactly representable in float16 (the trained weights are rounded to fp16 at
the end of training) is stored as float16 and cast back by a Cast node at the graph's start, which onnxruntime
folds when the session is created: the fp32 graphs compute in float32 with exactly the trained weights, the
fp16 graphs read the same bytes, and the weights are stored once (about half the size of two files).
Run 20 on: a checkpoint rounded by `quant8.py round` (its matrices are int8 codes times a float32 scale per row,
kept in `int8_scales`) has those matrices stored as int8 codes + scales and restored at the graph's start by
Cast(int8 -> float) and Mul(scale) (the float32 product torch computed; the fp16 graphs add a Cast to float16).
Plain Cast/Mul rather than DequantizeLinear: onnxruntime folds them into float weights when the session is created,
while a DequantizeLinear feeding a MatMul is fused at the 'extended' optimisation level into a kernel that also
quantises the activations (1e-2 relative error on the fixtures, measured). Both precisions read the same int8
bytes: the fp32 graphs compute with exactly the checkpoint's weights, the fp16 graphs with those weights rounded
to fp16, as before, and the file holds one byte per weight.
Gather-form block-sparse attention only (no FlexAttention in the graphs), opset 17, standard ops.

python3 -m lens_train.export --run DIR --out DIR/model   (then check: --check)
"""
import argparse
import hashlib
import inspect
import io
import json
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

from .model import Config, Encoder, random_blocks
from .quant8 import int8_table, load_state

OPSET = 17
# the TorchScript-based exporter (dynamic_axes, one trace); newer torch defaults to the dynamo exporter
LEGACY = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
EXTERNAL_MIN_BYTES = 1024
F16 = "__f16"                                              # suffix of a float32 weight stored as float16
Q8, S8 = "__q8", "__s8"                                    # int8 codes and scales of a weight stored as int8


class EncoderGraph(nn.Module):
    def __init__(self, model, attn):
        super().__init__()
        self.m, self.attn = model, attn

    def forward(self, input_ids, valid, seg_doc, rand_blocks, mem_in, z_in):
        o = self.m(input_ids, valid, seg_doc, rand_blocks, mem_in, z_in, attn=self.attn)
        # the dense graph ignores rand_blocks; keep it as an input so both graphs take the same feeds
        keep = (rand_blocks.sum() * 0).float() if self.attn == "dense" else 0.0
        return (o["emb"].float() + keep, o["mem_out"].float(), o["z_out"].float(), o["mem_sum"].float(),
                o["z_sum"].float())


class QueryGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, input_ids, valid, mem_in, z_in):
        o = self.m(input_ids, valid, None, None, mem_in, z_in, attn="dense", memory="query")
        e = (o["emb"].float() * valid[..., None]).sum(1) / valid.sum(1, keepdim=True).clamp(min=1.0)
        return e / e.norm(dim=-1, keepdim=True).clamp(min=1e-12)                  # [Bq, E]


class LensGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, input_ids, valid, rand_blocks, mem_in, z_in):
        seg_doc = torch.zeros_like(input_ids[:, 0])
        o = self.m(input_ids, valid, seg_doc, rand_blocks, mem_in, z_in, attn="gather", lens=True)
        gates = torch.stack([torch.sigmoid(b.attn.beta.float()) for b in self.m.blocks])   # [L, H]
        return (o["probs"].float(), o["key_blocks"], o["global_probs"].float(), gates,
                o["sigma_q"].float(), o["sigma_k"].float(), o["mem_out"].float(), o["z_out"].float())


SPECS = {
    "encoder": (["input_ids", "valid", "seg_doc", "rand_blocks", "mem_in", "z_in"],
                ["emb", "mem_out", "z_out", "mem_sum", "z_sum"],
                {"input_ids": {0: "S"}, "valid": {0: "S"}, "seg_doc": {0: "S"}, "emb": {0: "S"}}),
    "query": (["input_ids", "valid", "mem_in", "z_in"], ["qemb"],
              {"input_ids": {0: "Bq", 1: "Tq"}, "valid": {0: "Bq", 1: "Tq"}, "qemb": {0: "Bq"}}),
    "lens": (["input_ids", "valid", "rand_blocks", "mem_in", "z_in"],
             ["probs", "key_blocks", "global_probs", "gates", "sigma_q", "sigma_k", "mem_out", "z_out"], {}),
}


def example_inputs(cfg, kind, device, S=3, Bq=2, Tq=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    L, G, D, T = cfg.n_layers, cfg.n_kv_heads, cfg.d_head, cfg.seg_len
    rb = random_blocks(1234, L, cfg.n_heads, cfg.nb, cfg.window, cfg.n_global, cfg.n_random)
    mem = torch.rand(L, G, D, D, generator=g) * 0.1
    z = torch.rand(L, G, D, generator=g) * 10
    if kind == "query":
        ids = torch.randint(4, cfg.vocab, (Bq, Tq), generator=g)
        val = torch.ones(Bq, Tq)
        val[1, Tq // 2:] = 0
        args = (ids, val, mem, z)
    elif kind == "lens":
        ids = torch.randint(4, cfg.vocab, (1, T), generator=g)
        val = (torch.arange(T) < 700).float()[None]
        args = (ids, val, rb, mem, z)
    else:
        ids = torch.randint(4, cfg.vocab, (S, T), generator=g)
        val = torch.ones(S, T)
        val[-1, 300:] = 0
        args = (ids, val, torch.tensor([0] * (S - 1) + [1]), rb, mem, z)
    return tuple(a.to(device) for a in args)


def export_one(module, cfg, kind, device):
    names_in, names_out, dyn = SPECS["encoder" if kind.startswith("encoder") else kind]
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, example_inputs(cfg, kind.split("_")[0], device), buf, opset_version=OPSET,
                          input_names=names_in, output_names=names_out, dynamic_axes=dyn,
                          do_constant_folding=True, **LEGACY)
    return onnx.load_from_string(buf.getvalue())


def store_fp16(g):
    """Float32 initializers (>= 1 KiB) that float16 holds exactly -> float16 initializer + Cast(to float)."""
    inits, casts = [], []
    for t in g.initializer:
        if t.data_type == onnx.TensorProto.FLOAT:
            arr = numpy_helper.to_array(t)
            h = arr.astype(np.float16)
            if arr.nbytes >= EXTERNAL_MIN_BYTES and np.array_equal(h.astype(np.float32), arr):
                inits.append(numpy_helper.from_array(h, t.name + F16))
                casts.append(onnx.helper.make_node("Cast", [t.name + F16], [t.name], name=t.name + F16 + "_cast",
                                                   to=onnx.TensorProto.FLOAT))
                continue
        inits.append(t)
    del g.initializer[:]
    g.initializer.extend(inits)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    return len(casts)


def int8_lookup(table):
    """{(dtype, bytes of an initializer as exported): (codes, scales, axis)} for every int8-stored matrix: torch's
    weight [out, in] (Gather: the embedding) or its transpose [in, out] (MatMul), in float32 and in float16."""
    look = {}
    for q, s in table.values():
        w = (q.float() * s[:, None]).numpy()
        qn, sn = q.numpy(), s.numpy().astype(np.float32)
        for arr, codes, axis in ((w, qn, 0), (np.ascontiguousarray(w.T), np.ascontiguousarray(qn.T), 1)):
            for dt, tp in ((np.float32, onnx.TensorProto.FLOAT), (np.float16, onnx.TensorProto.FLOAT16)):
                look[(tp, arr.shape, (arr.astype(dt) + dt(0)).tobytes())] = (codes, sn, axis)   # -0.0 -> +0.0
    return look


def store_int8(g, look):
    """Initializers found in `look` -> int8 codes + float32 scales, Cast(float) * scale (+ Cast to float16)."""
    inits, nodes = [], []
    for t in g.initializer:
        key = None
        if len(t.dims) == 2 and t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16):
            arr = numpy_helper.to_array(t)
            key = (t.data_type, arr.shape, (arr + arr.dtype.type(0)).tobytes())
        hit = look.get(key) if key else None
        if hit is None:
            inits.append(t)
            continue
        codes, scales, axis = hit
        scales = scales[:, None] if axis == 0 else scales[None, :]           # broadcasts over the other axis
        inits += [numpy_helper.from_array(codes, t.name + Q8), numpy_helper.from_array(scales, t.name + S8)]
        f16 = t.data_type == onnx.TensorProto.FLOAT16
        deq = t.name + "__deq" if f16 else t.name
        nodes += [onnx.helper.make_node("Cast", [t.name + Q8], [t.name + Q8 + "_f"], name=t.name + Q8 + "_f",
                                        to=onnx.TensorProto.FLOAT),
                  onnx.helper.make_node("Mul", [t.name + Q8 + "_f", t.name + S8], [deq], name=t.name + Q8 + "_dq")]
        if f16:
            nodes.append(onnx.helper.make_node("Cast", [deq], [t.name], name=t.name + Q8 + "_cast",
                                               to=onnx.TensorProto.FLOAT16))
    del g.initializer[:]
    g.initializer.extend(inits)
    rest = list(g.node)
    del g.node[:]
    g.node.extend(nodes + rest)
    return sum(n.op_type == "Mul" for n in nodes)


def share_weights(protos, weights_path, fp16_store=(), int8_look=None):
    """Move every tensor >= 1 KiB (initializers and Constant nodes) into one file; identical bytes once.
    Graphs named in fp16_store keep their fp16-exact float32 weights as float16 (store_fp16)."""
    table, blob = {}, bytearray()
    loc = os.path.basename(weights_path)
    for name, proto in protos.items():
        g = proto.graph
        keep = []
        for node in g.node:                                                 # large Constants -> initializers
            if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value" \
                    and len(node.attribute[0].t.raw_data) >= EXTERNAL_MIN_BYTES:
                t = onnx.TensorProto()
                t.CopyFrom(node.attribute[0].t)
                t.name = node.output[0]
                g.initializer.append(t)
            else:
                keep.append(node)
        del g.node[:]
        g.node.extend(keep)
        if int8_look:
            print(name, "weights stored as int8:", store_int8(g, int8_look), flush=True)
        if name in fp16_store:
            print(name, "float32 weights stored as float16:", store_fp16(g), flush=True)
        for t in g.initializer:
            if not t.HasField("raw_data"):
                arr = numpy_helper.to_array(t)
                t.CopyFrom(numpy_helper.from_array(arr, t.name))
            raw = t.raw_data
            if len(raw) < EXTERNAL_MIN_BYTES:
                continue
            key = hashlib.sha256(raw + bytes(str((t.data_type, list(t.dims))), "ascii")).hexdigest()
            if key not in table:
                pad = (-len(blob)) % 64
                blob += b"\0" * pad
                table[key] = (len(blob), len(raw))
                blob += raw
            off, n = table[key]
            t.ClearField("raw_data")
            t.data_location = onnx.TensorProto.EXTERNAL
            del t.external_data[:]
            for k_, v_ in (("location", loc), ("offset", str(off)), ("length", str(n))):
                e = t.external_data.add()
                e.key, e.value = k_, v_
    with open(weights_path, "wb") as fh:
        fh.write(blob)
    return len(blob)


def load_model(run, device, dtype):
    ck = torch.load(os.path.join(run, "ckpt.pt"), map_location="cpu")
    cfg = Config(**{k: v for k, v in ck["config"].items() if k != "dense_below"})
    m = Encoder(cfg)
    m.load_state_dict(load_state(ck))
    return m.to(device=device, dtype=dtype).eval(), cfg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--precisions", default="fp32,fp16")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    report, protos = {}, {}
    for prec, dtype in (("fp32", torch.float32), ("fp16", torch.float16)):
        if prec not in args.precisions.split(","):
            continue
        model, cfg = load_model(args.run, device if prec == "fp16" else "cpu", dtype)
        dev = next(model.parameters()).device
        protos[f"encoder.{prec}"] = export_one(EncoderGraph(model, "gather"), cfg, "encoder", dev)
        protos[f"query.{prec}"] = export_one(QueryGraph(model), cfg, "query", dev)
        if prec == "fp32":
            protos["encoder_dense.fp32"] = export_one(EncoderGraph(model, "dense"), cfg, "encoder_dense", dev)
            protos["lens.fp32"] = export_one(LensGraph(model), cfg, "lens", dev)
    table = int8_table(torch.load(os.path.join(args.run, "ckpt.pt"), map_location="cpu"))
    nbytes = share_weights(protos, os.path.join(args.out, "weights.bin"),
                           fp16_store={n for n in protos if n.endswith(".fp32")}, int8_look=int8_lookup(table))
    report["int8_matrices"] = len(table)
    for name, proto in protos.items():
        path = os.path.join(args.out, f"{name}.onnx")
        onnx.save(proto, path)
        onnx.checker.check_model(path)
        ops = sorted({n.op_type for n in proto.graph.node})
        report[name] = dict(bytes=os.path.getsize(path), ops=ops)
    report["weights.bin"] = dict(bytes=nbytes)
    print("weights", nbytes, "bytes", flush=True)
    json.dump(report, open(os.path.join(args.out, "export_report.json"), "w"), indent=1)
    print(json.dumps({k: v["bytes"] if isinstance(v, dict) else v for k, v in report.items()}), flush=True)


if __name__ == "__main__":
    main()
