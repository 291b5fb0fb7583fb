"""data.MLMBatches with recall facts: each asked value is labelled and masked in a segment at least `gap` after the
segment that writes 'name = value' in full; the written fact and the asked prefix are never masked; the loss of
train.mlm_loss adds the facts' own mean; without facts the batch is unchanged in shape and content.

Issue 24 (memory_recall.py): the batched delta rule equals the segment-by-segment reference; the recall tasks
write each asked value in full in an earlier segment, mask it where asked and label only there."""
import os

import numpy as np
import pytest
import torch

from lens_train.data import MASK, MLMBatches
from lens_train.model import Config, Encoder, random_blocks
from lens_train.train import mlm_loss
from lens_train import model as model_mod
from lens_train.memory_recall import Encode, add_recall, mem_delta_docs, name_bank


def cfg():
    return Config(vocab=300, d_model=32, n_layers=1, n_heads=2, n_kv_heads=1, d_head=16, d_ff=64,
                  seg_len=256, block=32, window=3, n_global=1, n_random=1, emb_dim=16)


def facts(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.integers(260, 300, int(rng.integers(3, 6))), rng.integers(260, 300, int(rng.integers(2, 5))))
            for _ in range(n)]


def stream(n=200_000):
    return np.random.default_rng(1).integers(4, 300, n).astype(np.int64)


@pytest.mark.parametrize("gap,recall_n", [(4, 4), (1, 8)])
def test_each_asked_value_is_written_in_full_earlier(gap, recall_n):
    nseg, T = 12, 256
    mb = MLMBatches(stream(), cfg(), nseg, 4, facts=facts(), recall_p=1.0, gap=gap, recall_n=recall_n, seed=3)
    inp, labels, seg_doc, mem_mask, ask = mb()
    assert ask.any() and ask.shape == inp.shape
    assert (inp[ask] == MASK).all() and (labels[ask] >= 0).all()
    bank = {tuple(p) + tuple(v) for p, v in facts()}
    n_checked, per_seq = 0, []
    for b in range(4):
        per_seq.append(n_checked)
        seq_in, seq_ask, seq_lab = inp[b * nseg:(b + 1) * nseg], ask[b * nseg:(b + 1) * nseg], labels[b * nseg:(b + 1) * nseg]
        for s in range(nseg):
            pos = np.flatnonzero(seq_ask[s])
            if not len(pos):
                continue
            # the asked runs of this segment: each run's value, preceded by its unmasked prefix
            runs = np.split(pos, np.flatnonzero(np.diff(pos) > 1) + 1)
            for run in runs:
                val = tuple(seq_lab[s, run])
                match = [f for f in bank if f[-len(val):] == val and tuple(seq_in[s, run[0] - (len(f) - len(val)):run[0]]) == f[:-len(val)]]
                assert match, "an asked value follows its fact's prefix, unmasked"
                full = np.array(match[0])
                written = [j for j in range(s - gap + 1) if any((seq_in[j, p:p + len(full)] == full).all()
                                                          for p in range(T - len(full) + 1))]
                assert written, "the fact is written in full at least `gap` segments earlier"
                n_checked += 1
    per_seq = np.diff(per_seq + [n_checked])
    assert n_checked >= 4 and per_seq.max() <= recall_n
    assert recall_n <= 4 or per_seq.max() > 4                              # more than the default's 4 a sequence


def test_shuffled_values_are_written_before_they_are_asked():
    nseg, T = 12, 256
    mb = MLMBatches(stream(), cfg(), nseg, 4, facts=facts(), recall_p=1.0, gap=2, recall_n=8, seed=3,
                    shuffle_values=True)
    inp, labels, seg_doc, mem_mask, ask = mb()
    prefixes = [tuple(p) for p, _ in facts()]
    bank = {tuple(p) + tuple(v) for p, v in facts()}
    n_checked = n_new = 0
    for b in range(4):
        seq_in, seq_ask, seq_lab = inp[b * nseg:(b + 1) * nseg], ask[b * nseg:(b + 1) * nseg], labels[b * nseg:(b + 1) * nseg]
        for s in range(nseg):
            pos = np.flatnonzero(seq_ask[s])
            for run in (np.split(pos, np.flatnonzero(np.diff(pos) > 1) + 1) if len(pos) else []):
                pre = next(p for p in prefixes if tuple(seq_in[s, run[0] - len(p):run[0]]) == p)
                full = np.array(pre + tuple(seq_lab[s, run]))
                assert any((seq_in[j, p:p + len(full)] == full).all() for j in range(s - 1) for p in range(T - len(full) + 1)), \
                    "the name with this value is written in full at least `gap` segments earlier"
                n_checked += 1
                n_new += tuple(full) not in bank
    assert n_checked >= 8 and n_new >= n_checked // 2          # most pairs are not the bank's: only memory knows them


def test_without_facts_the_batch_is_the_old_one():
    a = MLMBatches(stream(), cfg(), 9, 2, seed=5)()
    b = MLMBatches(stream(), cfg(), 9, 2, seed=5, facts=facts(), recall_p=0.0)()
    assert len(a) == 4 and len(b) == 5 and not b[4].any()
    for x, y in zip(a, b[:4]):
        assert np.array_equal(x, y)


def test_recall_weight_adds_the_facts_mean():
    torch.manual_seed(0)
    c = cfg()
    model = Encoder(c).eval()
    batch = MLMBatches(stream(), c, 9, 2, facts=facts(), recall_p=1.0, seed=7)()
    rand = random_blocks(1, c.n_layers, c.n_heads, c.nb, c.window, c.n_global, c.n_random)
    with torch.no_grad():
        plain, _ = mlm_loss(model, c, batch, rand, attn="gather")
        weighted, _ = mlm_loss(model, c, batch, rand, attn="gather", recall_w=2.0)
        only = mlm_loss(model, c, (batch[0], np.where(batch[4], batch[1], -100), batch[2]), rand, attn="gather")[0]
    assert torch.allclose(weighted, plain + 2.0 * only, rtol=1e-5)


def test_segments_of_256_tokens_draw_every_splice_length():
    """A copied span may be up to 256 tokens: with T = 256 its start must still be drawable (1,200 draws here;
    before the fix about 1 in 193 raised 'high <= 0')."""
    mb = MLMBatches(stream(), cfg(), 4, 4, seed=11)
    for _ in range(300):
        inp, labels, _, _ = mb()
        assert inp.shape == (16, 256)



def test_batched_delta_equals_sequential():
    g = torch.Generator().manual_seed(0)
    nd, n, H, G, T, D = 3, 4, 4, 2, 16, 8
    S = nd * n
    sq = model_mod.sigma(torch.randn(S, H, T, D, generator=g, dtype=torch.float64))
    sk = model_mod.sigma(torch.randn(S, G, T, D, generator=g, dtype=torch.float64))
    v = torch.randn(S, G, T, D, generator=g, dtype=torch.float64)
    valid = (torch.rand(S, T, generator=g) > 0.2).double()
    seg_doc = torch.arange(nd).repeat_interleave(n)
    mem_in, z_in = torch.zeros(G, D, D, dtype=torch.float64), torch.zeros(G, D, dtype=torch.float64)
    ref = model_mod.mem_sequential(sq, sk, v, valid, seg_doc, mem_in, z_in, "delta")
    got = mem_delta_docs(sq, sk, v, valid, seg_doc, mem_in, z_in, "delta")
    for a, b in zip(ref, got):
        assert torch.allclose(a, b, atol=1e-10, rtol=1e-10)
    # a batch that is not B equal docs from zero memory goes to the reference
    odd = torch.tensor([0] * 5 + [1] * 7)
    for a, b in zip(model_mod.mem_sequential(sq, sk, v, valid, odd, mem_in, z_in, "delta"),
                    mem_delta_docs(sq, sk, v, valid, odd, mem_in, z_in, "delta")):
        assert torch.equal(a, b)


class Tok:
    """A stand-in tokenizer: one id per character (>= 4, so never a special id)."""

    def encode(self, s, add_special_tokens=False):
        return type("E", (), {"ids": [4 + (ord(c) % 250) for c in s]})()


def test_recall_tasks_write_then_ask():
    nseg, T = 8, 256
    rng = np.random.default_rng(0)
    inp = rng.integers(300, 400, (2 * nseg, T)).astype(np.int64)
    labels = np.full_like(inp, -100)
    labels[rng.random(inp.shape) < 0.1] = 7
    bank = name_bank([dict(lang="python", text="alpha_one = 3\nbeta_two = 'x'\n"),
                      dict(lang="c", text="#define GAMMA_MAX 12\n")])
    assert sorted(n for _, n in bank) == ["GAMMA_MAX", "alpha_one", "beta_two"]
    ask = add_recall(inp, labels, nseg, Encode(Tok()), bank, rng, passkey_p=1.0, max_facts=8)
    assert (ask == 2).any() and (ask == 1).any()
    assert (inp[ask > 0] == MASK).all() and (labels[ask > 0] != -100).all()
    for b in range(2):
        seq_inp, seq_ask = inp[b * nseg:(b + 1) * nseg], ask[b * nseg:(b + 1) * nseg]
        assert not seq_ask[0].any()                                       # never asked in the first segment
        assert (seq_ask[:-1] != 2).all()                                  # the passkey is asked in the last
        for s in range(nseg):
            for run in np.split(np.flatnonzero(seq_ask[s]), np.flatnonzero(np.diff(np.flatnonzero(seq_ask[s])) > 1) + 1):
                if not len(run):
                    continue
                val = labels[b * nseg + s, run]
                earlier = seq_inp[:s].reshape(-1)
                hits = [i for i in range(len(earlier) - len(val) + 1) if np.array_equal(earlier[i:i + len(val)], val)]
                assert hits, "the asked value is written in full in an earlier segment"
