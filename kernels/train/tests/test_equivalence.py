"""Naive vs flex vs gather attention, segment-parallel vs segment-by-segment memory, no NaN at the first
segment, odd lengths 63 and 500. Fresh random inputs each run; float64 on the CPU, flex on the GPU."""
import dataclasses
import os

import pytest
import torch

from lens_train.model import (Config, Encoder, attn_gather, attn_masked, attn_naive, block_layout, key_blocks_for, base_slots,  # noqa
                   mem_contrib, mem_parallel, mem_read, mem_sequential, mulberry32, random_blocks, sigma)

SMALL = Config(vocab=512, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, d_head=16, d_ff=96,
               seg_len=256, block=32)          # nb = 8, K = 7, dense fallback below 224 valid tokens
CUDA = torch.cuda.is_available()


def rel(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30))


def batch(cfg, lengths, seed=None):
    """Files of the given token lengths cut into segments (last one padded)."""
    g = torch.Generator().manual_seed(seed if seed is not None else torch.seed() % 2**31)
    ids, valid, doc = [], [], []
    for d, n in enumerate(lengths):
        for s0 in range(0, n, cfg.seg_len):
            m = min(cfg.seg_len, n - s0)
            row = torch.randint(4, cfg.vocab, (cfg.seg_len,), generator=g)
            ids.append(row)
            valid.append(torch.arange(cfg.seg_len) < m)
            doc.append(d)
    return torch.stack(ids), torch.stack(valid), torch.tensor(doc)


def test_mulberry32_matches_js():
    # values printed by the JS mulberry32 in CONTRACT.md (node)
    r = mulberry32(1234)
    assert [round(r(), 12) for _ in range(3)] == [0.073294978123, 0.703411989845, 0.902856019093]
    r = mulberry32(4294967295)
    assert round(r(), 12) == 0.896422614111


def test_random_blocks_properties():
    cfg = Config()
    rb = random_blocks(1234, cfg.n_layers, cfg.n_heads, cfg.nb, cfg.window, cfg.n_global, cfg.n_random)
    glob = set(cfg.global_blocks)
    for l in range(cfg.n_layers):
        for h in range(cfg.n_heads):
            for i in range(cfg.nb):
                row = rb[l, h, i].tolist()
                if i in glob:
                    assert row == [-1] * cfg.n_random
                    continue
                assert len(set(row)) == len(row)
                assert all(abs(j - i) > cfg.window // 2 and j not in glob and 0 <= j < cfg.nb for j in row)


@pytest.mark.parametrize("lengths", [[63], [500], [63, 500, 256]])
def test_gather_equals_naive(lengths):
    cfg = SMALL
    ids, valid, _ = batch(cfg, lengths)
    S, H, G, T, D = ids.shape[0], cfg.n_heads, cfg.n_kv_heads, cfg.seg_len, cfg.d_head
    q, k, v = torch.randn(S, H, T, D, dtype=torch.float64), torch.randn(S, G, T, D, dtype=torch.float64), \
        torch.randn(S, G, T, D, dtype=torch.float64)
    rb = random_blocks(torch.randint(0, 2**31, ()).item(), 1, H, cfg.nb, cfg.window, cfg.n_global,
                       cfg.n_random)[0]
    kb = key_blocks_for(base_slots(cfg), rb, valid, cfg)
    ref, _ = attn_naive(q, k, v, block_layout(kb, cfg), valid, cfg)
    out, (probs, gprobs) = attn_gather(q, k, v, kb, valid, cfg, want_probs=True)
    m = valid[:, None, :, None]
    assert rel(out * m, ref * m) < 1e-12
    assert torch.isfinite(probs).all() and torch.isfinite(gprobs).all()


def test_dense_fallback_is_dense():
    cfg = SMALL
    ids, valid, _ = batch(cfg, [63])
    H, G, T, D = cfg.n_heads, cfg.n_kv_heads, cfg.seg_len, cfg.d_head
    q, k, v = torch.randn(1, H, T, D, dtype=torch.float64), torch.randn(1, G, T, D, dtype=torch.float64), \
        torch.randn(1, G, T, D, dtype=torch.float64)
    rb = random_blocks(7, 1, H, cfg.nb, cfg.window, cfg.n_global, cfg.n_random)[0]
    kb = key_blocks_for(base_slots(cfg), rb, valid, cfg)
    out, _ = attn_gather(q, k, v, kb, valid, cfg)
    full = torch.ones(1, H, cfg.nb, cfg.nb, dtype=torch.bool)
    ref, _ = attn_naive(q, k, v, full, valid, cfg)
    m = valid[:, None, :, None]
    assert rel(out * m, ref * m) < 1e-12


def test_memory_parallel_equals_sequential():
    S, G, H, T, D = 7, 2, 4, 40, 16
    valid = torch.rand(S, T) > 0.2
    seg_doc = torch.tensor([0, 0, 0, 1, 2, 2, 2])
    sq, sk = sigma(torch.randn(S, H, T, D, dtype=torch.float64)), sigma(torch.randn(S, G, T, D, dtype=torch.float64))
    v = torch.randn(S, G, T, D, dtype=torch.float64)
    mem_in, z_in = torch.rand(G, D, D, dtype=torch.float64), torch.rand(G, D, dtype=torch.float64)
    C, zc = mem_contrib(sk, v, valid.double())
    M, z, M_out, z_out, M_sum, z_sum = mem_parallel(C, zc, seg_doc, mem_in, z_in)
    par = mem_read(sq, M, z)
    seq, M2, z2, M_sum2, z_sum2 = mem_sequential(sq, sk, v, valid.double(), seg_doc, mem_in, z_in, "linear")
    assert rel(par, seq) < 1e-12
    assert rel(M_out, M2) < 1e-12 and rel(z_out, z2) < 1e-12
    assert rel(M_sum, M_sum2) < 1e-12 and rel(z_sum, z_sum2) < 1e-12


def test_delta_rule_finite_and_differs():
    S, G, H, T, D = 4, 2, 4, 32, 16
    valid = torch.ones(S, T)
    seg_doc = torch.zeros(S, dtype=torch.long)
    sq, sk = sigma(torch.randn(S, H, T, D, dtype=torch.float64)), sigma(torch.randn(S, G, T, D, dtype=torch.float64))
    v = torch.randn(S, G, T, D, dtype=torch.float64)
    z0 = torch.zeros(G, D, dtype=torch.float64)
    lin = mem_sequential(sq, sk, v, valid, seg_doc, torch.zeros(G, D, D, dtype=torch.float64), z0, "linear")
    dl = mem_sequential(sq, sk, v, valid, seg_doc, torch.zeros(G, D, D, dtype=torch.float64), z0, "delta")
    assert torch.isfinite(dl[0]).all() and torch.isfinite(dl[1]).all()
    assert rel(dl[0][:1], lin[0][:1]) < 1e-12 and rel(dl[0][1:2], lin[0][1:2]) < 1e-12  # first update equal
    assert rel(dl[1], lin[1]) > 1e-3


def model_outputs(cfg, lengths, attn, memory, device="cpu", dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    m = Encoder(cfg).to(device=device, dtype=dtype)
    for b in m.blocks:
        b.attn.beta.data.normal_()            # gates away from 0.5 so the memory path matters
    ids, valid, doc = batch(cfg, lengths, seed=seed + 1)
    rb = random_blocks(seed + 2, cfg.n_layers, cfg.n_heads, cfg.nb, cfg.window, cfg.n_global, cfg.n_random)
    L, G, D = cfg.n_layers, cfg.n_kv_heads, cfg.d_head
    mem_in = torch.rand(L, G, D, D, device=device)
    z_in = torch.rand(L, G, D, device=device) * 10
    with torch.no_grad():
        out = m(ids.to(device), valid.to(device), doc.to(device), rb.to(device), mem_in, z_in,
                attn=attn, memory=memory)
    return out, valid.to(device)


@pytest.mark.parametrize("mem_proj", [False, True])
@pytest.mark.parametrize("lengths", [[63], [500], [63, 500, 700]])
def test_encoder_paths_agree(lengths, mem_proj):
    cfg = dataclasses.replace(SMALL, mem_proj=mem_proj)
    ref, valid = model_outputs(cfg, lengths, "naive", "sequential")
    m = valid[..., None]
    for attn, memory in [("gather", "parallel"), ("naive", "parallel"), ("gather", "sequential")]:
        out, _ = model_outputs(cfg, lengths, attn, memory)
        assert rel(out["emb"] * m, ref["emb"] * m) < 1e-10, (attn, memory)
        for k in ("mem_out", "z_out", "mem_sum", "z_sum"):
            assert rel(out[k], ref[k]) < 1e-10, (attn, memory, k)
        assert all(torch.isfinite(v).all() for v in out.values())


def test_no_nan_first_segment_and_memory_off_equal_there():
    cfg = SMALL
    ids, valid, doc = batch(cfg, [63])
    torch.manual_seed(1)
    m = Encoder(cfg).double()
    rb = random_blocks(3, cfg.n_layers, cfg.n_heads, cfg.nb, cfg.window, cfg.n_global, cfg.n_random)
    with torch.no_grad():
        on = m(ids, valid, doc, rb, memory="parallel")
        off = m(ids, valid, doc, rb, memory="off")
    assert all(torch.isfinite(v).all() for v in on.values())
    assert rel(on["emb"], off["emb"]) < 1e-12        # zero memory at a file's first segment reads 0


def test_mem_proj_memory_uses_its_own_projections():
    """With mem_proj, layer 0's memory sum is Σ σ(k_m)ᵀ v_m with [q_m, k_m, v_m] = LN1(x) W_qkv,mᵀ (no RoPE), and
    not the same sum through the local attention's W_qkv."""
    cfg = dataclasses.replace(SMALL, mem_proj=True)
    torch.manual_seed(0)
    m = Encoder(cfg).double()
    ids, valid, doc = batch(cfg, [63, 500], seed=1)
    rb = random_blocks(2, cfg.n_layers, cfg.n_heads, cfg.nb, cfg.window, cfg.n_global, cfg.n_random)
    with torch.no_grad():
        out = m(ids, valid, doc, rb, attn="gather", memory="parallel")
        h = m.blocks[0].ln1(m.tok(ids))                                     # [S, T, d]
        H, G, D = cfg.n_heads, cfg.n_kv_heads, cfg.d_head

        def mem_sum(w):
            _, k, v = (h @ w.t()).split([H * D, G * D, G * D], dim=-1)
            sk = sigma(k) * valid[..., None]
            return torch.einsum("stgd,stge->gde", sk.reshape(*sk.shape[:2], G, D), v.reshape(*v.shape[:2], G, D))
        own, shared = mem_sum(m.blocks[0].attn.wqkv_m.weight), mem_sum(m.blocks[0].attn.wqkv.weight)
    assert rel(out["mem_sum"][0], own) < 1e-12
    assert rel(out["mem_sum"][0], shared) > 0.1


@pytest.mark.skipif(not CUDA, reason="FlexAttention needs the GPU")
@pytest.mark.parametrize("lengths", [[63], [500], [63, 1500, 4096]])
def test_flex_equals_naive_gpu(lengths):
    cfg = Config(vocab=1024)                    # the shipped layout: T=1024, b=64
    ref, valid = model_outputs(cfg, lengths, "naive", "parallel", "cuda", torch.float32)
    out, _ = model_outputs(cfg, lengths, "flex", "parallel", "cuda", torch.float32)
    gat, _ = model_outputs(cfg, lengths, "gather", "parallel", "cuda", torch.float32)
    msk, _ = model_outputs(cfg, lengths, "masked", "parallel", "cuda", torch.float32)
    m = valid[..., None]
    assert rel(msk["emb"] * m, ref["emb"] * m) < 2e-3
    assert rel(out["emb"] * m, ref["emb"] * m) < 2e-3      # flex tiles use tf32-class arithmetic
    assert rel(gat["emb"] * m, ref["emb"] * m) < 2e-3
    assert torch.isfinite(out["emb"]).all()


def test_dropout_is_training_only():
    """Residual dropout (Encoder.set_dropout) changes training outputs and is the identity in eval mode."""
    cfg = SMALL
    ids, valid, doc = batch(cfg, [63], seed=5)
    torch.manual_seed(2)
    m = Encoder(cfg).double()
    rb = random_blocks(3, cfg.n_layers, cfg.n_heads, cfg.nb, cfg.window, cfg.n_global, cfg.n_random)
    with torch.no_grad():
        m.eval()
        ref = m(ids, valid, doc, rb)["emb"]
        m.set_dropout(0.3).eval()
        assert rel(m(ids, valid, doc, rb)["emb"], ref) == 0.0
        m.train()
        assert rel(m(ids, valid, doc, rb)["emb"], ref) > 1e-3
        m.set_dropout(0.0)
        assert rel(m(ids, valid, doc, rb)["emb"], ref) == 0.0


@pytest.mark.skipif(not hasattr(torch.nn.functional, "scaled_dot_product_attention"),
                    reason="attn_masked is attn_naive itself without F.scaled_dot_product_attention (torch < 2.0)")
@pytest.mark.parametrize("lengths", [[63], [500], [63, 500, 256]])
def test_masked_equals_naive(lengths):
    """The training path through the fused dense kernel computes attn_naive's function (CPU, float64)."""
    cfg = SMALL
    ids, valid, _ = batch(cfg, lengths)
    S, H, G, T, D = ids.shape[0], cfg.n_heads, cfg.n_kv_heads, cfg.seg_len, cfg.d_head
    q, k, v = (torch.randn(S, n, T, D, dtype=torch.float64) for n in (H, G, G))
    rb = random_blocks(torch.randint(0, 2**31, ()).item(), 1, H, cfg.nb, cfg.window, cfg.n_global,
                       cfg.n_random)[0]
    lay = block_layout(key_blocks_for(base_slots(cfg), rb, valid, cfg), cfg)
    ref, _ = attn_naive(q, k, v, lay, valid, cfg)
    out = attn_masked(q, k, v, lay, valid, cfg)
    m = valid[:, None, :, None]
    assert rel(out * m, ref * m) < 1e-12
    assert torch.isfinite(out).all()
