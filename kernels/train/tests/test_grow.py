"""model.grow_depth: a 2-layer encoder grown to 4 layers computes the same outputs (embeddings and memory of the
original layers; the new layers add nothing at first), and its new layers' residual outputs are zero while their
other weights are copies; a packed int8 checkpoint loads back within half a step of each row's scale."""
import os

import torch

from lens_train.model import Config, Encoder, grow_depth
from lens_train import quant8


def small(n_layers):
    return Config(vocab=300, d_model=32, n_layers=n_layers, n_heads=2, n_kv_heads=1, d_head=16, d_ff=64,
                  seg_len=256, block=32, window=3, n_global=1, n_random=1, emb_dim=16)


def test_grown_encoder_is_the_same_function():
    torch.manual_seed(0)
    a = Encoder(small(2)).double().eval()
    for b in a.blocks:                                     # gates away from 0.5, so the memory path counts
        b.attn.beta.data.normal_()
    g = Encoder(small(4)).double().eval()
    g.load_state_dict(grow_depth(a.state_dict(), 2, 4))
    ids = torch.randint(4, 300, (3, 256))
    valid = torch.ones(3, 256)
    valid[-1, 100:] = 0
    seg_doc = torch.tensor([0, 0, 1])
    from lens_train.model import random_blocks
    oa = a(ids, valid, seg_doc, random_blocks(7, 2, 2, 8, 3, 1, 1), attn="naive")
    og = g(ids, valid, seg_doc, random_blocks(7, 4, 2, 8, 3, 1, 1)[[0, 0, 1, 1]], attn="naive")
    assert torch.allclose(oa["emb"], og["emb"], atol=1e-12, rtol=0)
    assert torch.allclose(oa["mem_out"], og["mem_out"][[0, 2]], atol=1e-12, rtol=0)
    assert float(og["emb"].abs().max()) > 0
    s = g.state_dict()
    for l in (1, 3):
        assert torch.all(s[f"blocks.{l}.attn.wo.weight"] == 0) and torch.all(s[f"blocks.{l}.ff2.weight"] == 0)
        assert torch.equal(s[f"blocks.{l}.ff1.weight"], s[f"blocks.{l - 1}.ff1.weight"])
        assert torch.equal(s[f"blocks.{l}.attn.wqkv.weight"], s[f"blocks.{l - 1}.attn.wqkv.weight"])


def test_grow_rejects_a_non_multiple():
    try:
        grow_depth(Encoder(small(2)).state_dict(), 2, 3)
    except ValueError:
        return
    raise AssertionError("2 -> 3 layers should be refused")


def test_packed_checkpoint_round_trip():
    torch.manual_seed(1)
    st = {k: v.half() for k, v in Encoder(small(2)).state_dict().items()}
    packed = quant8.pack(dict(model=st, config={}))
    assert packed["model"]["tok.weight"].dtype == torch.int8 and packed["model"]["ln_f.weight"].dtype == torch.float16
    back = quant8.load_state(packed)
    for k, v in st.items():
        if v.dim() == 2:
            s = packed[quant8.SCALES][k]
            assert torch.all((back[k] - v.float()).abs() <= s[:, None] / 2 + 1e-6)
        else:
            assert torch.equal(back[k], v.float())
