"""The masked-token graph `mlm.fp32.onnx` of a model folder, for the CLI's `probe-memory` (issue 24): the encoder
(gather attention, memory across segments as encoder.onnx) and the tied output matrix at asked positions only.

  inputs   input_ids [S, T] int64, valid [S, T] f32, seg_doc [S] int64, rand_blocks [L, H, nb, r] int64,
           mem_in [L, G, D, D] f32, z_in [L, G, D] f32, positions [P] int64 (flat indices into S*T)
  outputs  top_ids [P, 5] int64 (the 5 likeliest tokens, best first), mem_out, z_out (as encoder.onnx)

Its weights are the folder's own: every tensor the graph stores is looked up by content in the folder's
weights.bin (int8 codes and row scales read from the folder's query graph, float16-exact vectors as float16, as
export.py stores them), and the graph points at those bytes. weights.bin is not rewritten; a tensor not found
there is an error. The logits are E·hᵀ with E the embedding exactly as the Gather stores it (no transposed copy).

python3 kernels/train/export_mlm.py --model kernels/model [--check]
"""
import argparse
import hashlib
import os
import tempfile

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

from export import F16, LEGACY, OPSET, Q8, S8, example_inputs, int8_lookup, share_weights

TOP = 5


class MlmGraph(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.m = model

    def forward(self, input_ids, valid, seg_doc, rand_blocks, mem_in, z_in, positions):
        o = self.m(input_ids, valid, seg_doc, rand_blocks, mem_in, z_in, attn="gather")
        h = o["h"].reshape(-1, self.m.cfg.d_model)[positions]                  # [P, d]
        logits = (self.m.tok.weight @ h.t()).t()                              # [P, V]
        return logits.topk(TOP, dim=-1).indices, o["mem_out"].float(), o["z_out"].float()


def int8_from_graph(path):
    """{name: (int8 codes [out, in], float32 scales [out])} of a graph's int8-stored matrices (torch's layout:
    a MatMul stores Wᵀ with scales over its columns, the embedding's Gather W with scales over its rows)."""
    g = onnx.load(path, load_external_data=True).graph
    inits = {t.name: t for t in g.initializer}
    out = {}
    for name, t in inits.items():
        if not name.endswith("__q8"):
            continue
        q = numpy_helper.to_array(t)
        s = numpy_helper.to_array(inits[name[:-4] + "__s8"]).astype(np.float32)
        if s.shape[0] == 1:                                                  # [1, out]: stored transposed
            q, s = q.T, s[0]
        else:
            s = s[:, 0]
        out[name[:-4]] = (torch.from_numpy(np.ascontiguousarray(q)), torch.from_numpy(s))
    return out


def weights_index(model_dir):
    """{content key: offset} of every tensor the folder's graphs read from weights.bin."""
    blob = open(os.path.join(model_dir, "weights.bin"), "rb").read()
    index = {}
    for fn in sorted(os.listdir(model_dir)):
        if not fn.endswith(".onnx") or fn.startswith("mlm."):
            continue
        for t in onnx.load(os.path.join(model_dir, fn), load_external_data=False).graph.initializer:
            ext = {e.key: e.value for e in t.external_data}
            if ext.get("location") == "weights.bin":
                off, n = int(ext["offset"]), int(ext["length"])
                index[key(blob[off:off + n], t)] = off
    return index


def key(raw, t):
    return hashlib.sha256(raw + bytes(str((t.data_type, list(t.dims))), "ascii")).hexdigest()


def export_mlm(model, model_dir):
    """Write model_dir/mlm.fp32.onnx whose every stored tensor is found in model_dir/weights.bin."""
    cfg = model.cfg
    args = example_inputs(cfg, "encoder", "cpu") + (torch.tensor([5, cfg.seg_len + 7, 2 * cfg.seg_len + 100]),)
    import io
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(MlmGraph(model.eval()), args, buf, opset_version=OPSET,
                          input_names=["input_ids", "valid", "seg_doc", "rand_blocks", "mem_in", "z_in", "positions"],
                          output_names=["top_ids", "mem_out", "z_out"],
                          dynamic_axes={"input_ids": {0: "S"}, "valid": {0: "S"}, "seg_doc": {0: "S"},
                                        "positions": {0: "P"}, "top_ids": {0: "P"}},
                          do_constant_folding=True, **LEGACY)
    proto = onnx.load_from_string(buf.getvalue())
    table = int8_from_graph(os.path.join(model_dir, "query.fp32.onnx"))
    with tempfile.TemporaryDirectory() as tmp:
        share_weights({"mlm.fp32": proto}, os.path.join(tmp, "w.bin"), fp16_store={"mlm.fp32"},
                      int8_look=int8_lookup(table))
        tmp_blob = open(os.path.join(tmp, "w.bin"), "rb").read()
    index, inline = weights_index(model_dir), []
    for t in proto.graph.initializer:
        ext = {e.key: e.value for e in t.external_data}
        if not ext:
            continue
        off, n = int(ext["offset"]), int(ext["length"])
        k = key(tmp_blob[off:off + n], t)
        if k in index:
            for e in t.external_data:
                e.value = {"location": "weights.bin", "offset": str(index[k]), "length": str(n)}[e.key]
            continue
        if t.name.endswith((Q8, S8, F16)):                                  # a trained weight: must be the folder's
            raise SystemExit(f"{t.name} {list(t.dims)}: not in {model_dir}/weights.bin (export the folder anew)")
        # a computed constant (the RoPE tables): kept in the graph; torch versions differ in its last bits
        del t.external_data[:]
        t.data_location = onnx.TensorProto.DEFAULT
        t.raw_data = tmp_blob[off:off + n]
        inline.append(f"{t.name} {list(t.dims)}")
    print(f"mlm.fp32: every weight read from weights.bin; {len(inline)} computed constants in the graph: "
          + ", ".join(inline), flush=True)
    path = os.path.join(model_dir, "mlm.fp32.onnx")
    onnx.save(proto, path)
    onnx.checker.check_model(path)
    return path


def check(model, model_dir, seed=0):
    """The graph's top token ids against the PyTorch model's at random positions (onnxruntime, CPU)."""
    import onnxruntime as ort
    cfg = model.cfg
    args = example_inputs(cfg, "encoder", "cpu", seed=seed)
    pos = torch.randint(0, args[0].numel(), (64,), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        ref = MlmGraph(model.eval())(*args, pos)
    sess = ort.InferenceSession(os.path.join(model_dir, "mlm.fp32.onnx"), providers=["CPUExecutionProvider"])
    names = ["input_ids", "valid", "seg_doc", "rand_blocks", "mem_in", "z_in", "positions"]
    got = sess.run(None, {n: a.numpy() for n, a in zip(names, args + (pos,))})
    top1 = float((got[0][:, 0] == ref[0][:, 0].numpy()).mean())
    mem = float(np.abs(got[1] - ref[1].numpy()).max() / max(1e-12, np.abs(ref[1].numpy()).max()))
    return dict(top1_agree=top1, mem_out_rel_err=mem)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="kernels/model", help="a model folder (model-card.json, query.fp32.onnx, weights.bin)")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    from chunks import load_model_dir
    import json
    m = load_model_dir(args.model)                                       # config from the card, mem_proj included
    print(export_mlm(m, args.model), flush=True)
    if args.check:
        print(json.dumps(check(m, args.model)), flush=True)


if __name__ == "__main__":
    main()
