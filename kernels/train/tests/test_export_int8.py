"""export.py with a checkpoint rounded by quant8: every weight matrix is stored once as int8 codes + a float32 scale
per row and restored by Cast + Mul to exactly the checkpoint's values; an unrounded checkpoint is refused."""
import os
import sys

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from lens_train import export
from lens_train import quant8
from lens_train.model import Config, Encoder


def small_cfg(**kw):
    return Config(vocab=300, d_model=32, n_layers=2, n_heads=2, n_kv_heads=1, d_head=16, d_ff=64, seg_len=256,
                  block=32, window=3, n_global=1, n_random=1, emb_dim=16, **kw)


def export_rounded(tmp_path, monkeypatch, cfg, model):
    """quant8-round the model's weights, export its fp32 graphs; returns the rounded state, the scales and the
    query graph's path."""
    state, scales = quant8.round_state(model.state_dict())
    run = tmp_path / "run"
    run.mkdir()
    torch.save(dict(model=state, config=cfg.to_dict(), **{quant8.SCALES: scales}), run / "ckpt.pt")
    monkeypatch.setattr(sys, "argv", ["export.py", "--run", str(run), "--out", str(run / "model"),
                                      "--precisions", "fp32"])
    export.main()
    return state, scales, str(run / "model" / "query.fp32.onnx")


def test_int8_matrices_in_the_exported_graphs(tmp_path, monkeypatch):
    cfg = small_cfg()
    torch.manual_seed(3)
    state, scales, query = export_rounded(tmp_path, monkeypatch, cfg, Encoder(cfg))
    m = onnx.load(query)                                              # external data resolved from weights.bin
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    cast = {n.output[0]: n.input[0] for n in m.graph.node if n.op_type == "Cast"}
    dq = [n for n in m.graph.node if n.op_type == "Mul" and cast.get(n.input[0]) in inits]
    assert len(dq) == len(scales) == 2 + 4 * cfg.n_layers                # tok, proj; wqkv, wo, ff1, ff2 a layer
    assert not any(n.op_type == "DequantizeLinear" for n in m.graph.node)
    want = {k: v.numpy() for k, v in state.items()}
    for n in dq:
        codes, sc = inits[cast[n.input[0]]], inits[n.input[1]]
        assert codes.dtype == np.int8 and sc.dtype == np.float32 and 1 in sc.shape
        deq = codes.astype(np.float32) * sc
        match = [k for k, w in want.items() if w.ndim == 2 and any(
            v.shape == deq.shape and np.array_equal(v, deq) for v in (w, w.T))]
        assert len(match) == 1, n.output[0]
    floats = [v for v in inits.values() if v.ndim == 2 and v.dtype == np.float32]      # (the RoPE tables)
    assert not any(np.array_equal(v, w) or np.array_equal(v, w.T) for v in floats for w in want.values()
                   if w.ndim == 2)


def test_packed_checkpoint_gives_the_same_table():
    torch.manual_seed(4)
    state, scales = quant8.round_state({"a": torch.randn(6, 10), "b": torch.randn(3, 5), "n": torch.randn(7)})
    ck = dict(model=state, **{quant8.SCALES: scales})
    t1, t2 = quant8.int8_table(ck), quant8.int8_table(quant8.pack(ck))
    assert set(t1) == set(t2) == {"a", "b"}
    assert all(torch.equal(t1[k][0], t2[k][0]) and torch.equal(t1[k][1], t2[k][1]) for k in t1)


def test_unrounded_checkpoint_is_refused():
    w = torch.randn(4, 8)
    with pytest.raises(ValueError):
        quant8.int8_table(dict(model={"x": w}, **{quant8.SCALES: {"x": w.abs().amax(1) / 127}}))


@pytest.mark.parametrize("mem_proj", [False, True])
def test_load_from_onnx_restores_an_int8_export(tmp_path, monkeypatch, mem_proj):
    """chunks.load_from_onnx (train_chunks --init kernels/model) reads the shipped int8 graphs back: every weight
    equals the rounded checkpoint's, with or without the memory's own projections."""
    from lens_train.chunks import load_from_onnx
    cfg = small_cfg(mem_proj=mem_proj)
    torch.manual_seed(5)
    m = Encoder(cfg)
    with torch.no_grad():
        for b in m.blocks:
            b.attn.beta.normal_()
    state, _, query = export_rounded(tmp_path, monkeypatch, cfg, m)
    got = load_from_onnx(Encoder(cfg), query).state_dict()
    for k, v in state.items():
        tol = 1e-3 if v.dim() == 1 else 0.0                                  # vectors are stored as float16
        assert torch.allclose(got[k], v.float(), rtol=tol, atol=tol), k
