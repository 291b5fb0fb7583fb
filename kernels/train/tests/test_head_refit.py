"""head_refit.py write: a refit head lands in weights.bin at the offsets every graph reads, as int8 rows, and
nothing else in the file moves; a refit with a LayerNorm bias (a graph initializer, not weights.bin) is refused."""
import json
import os
import types

import pytest
import torch

from lens_train import export
from lens_train import head_refit
from lens_train import quant8
from lens_train.chunks import load_from_onnx
from lens_train.model import Encoder
from test_export_int8 import export_rounded, small_cfg


@pytest.fixture
def small_model(tmp_path, monkeypatch):
    cfg = small_cfg()
    torch.manual_seed(11)
    m = Encoder(cfg)
    with torch.no_grad():
        for b in m.blocks:
            b.attn.beta.normal_()                                          # distinct gates: kept apart by the export
    monkeypatch.setattr(export, "EXTERNAL_MIN_BYTES", 1)                  # the small head in weights.bin, as shipped
    export_rounded(tmp_path, monkeypatch, cfg, m)
    model = tmp_path / "run" / "model"
    json.dump(dict(config=cfg.to_dict()), open(model / "model-card.json", "w"))
    (model / "tokenizer.json").write_text("{}")
    monkeypatch.setattr(head_refit, "MODEL", str(model))
    return cfg, model


def write(tmp_path, W, b):
    torch.save(dict(W=W, b=b), tmp_path / "refit.pt")
    a = types.SimpleNamespace(refit=str(tmp_path / "refit.pt"), dir=str(tmp_path), out=str(tmp_path / "out"),
                              run=str(tmp_path / "newrun"), model=head_refit.MODEL)
    head_refit.cmd_write(a)
    return tmp_path / "out"


def test_write_changes_only_the_head(tmp_path, small_model):
    cfg, model = small_model
    W0, m = head_refit.shipped_head()
    torch.manual_seed(12)
    W = W0 + 0.3 * W0.abs().mean() * torch.randn_like(W0)
    out = write(tmp_path, W, torch.zeros(W0.shape[1]))
    before = m.state_dict()
    after = load_from_onnx(Encoder(cfg), str(out / "query.fp32.onnx")).state_dict()
    assert torch.equal(after["proj.weight"], quant8.fake_int8(W)[0])
    assert not torch.equal(after["proj.weight"], before["proj.weight"])
    assert all(torch.equal(after[k], v) for k, v in before.items() if k != "proj.weight")
    old, new = open(model / "weights.bin", "rb").read(), open(out / "weights.bin", "rb").read()
    q8, s8 = head_refit.proj_initializers(str(model / "query.fp32.onnx"))
    spans = [head_refit.external(str(model / "query.fp32.onnx"), n) for n in (q8, s8)]
    changed = [i for i in range(len(old)) if old[i] != new[i]]
    assert len(old) == len(new) and changed
    assert all(any(o <= i < o + n for o, n in spans) for i in changed)
    ck = torch.load(tmp_path / "newrun" / "ckpt.pt")                      # fixtures.py --graphs reads this run
    assert torch.equal(ck["model"]["proj.weight"], after["proj.weight"])


def test_write_refuses_a_layernorm_bias(tmp_path, small_model):
    W0, _ = head_refit.shipped_head()
    with pytest.raises(SystemExit):
        write(tmp_path, W0, torch.full((W0.shape[1],), 0.1))
