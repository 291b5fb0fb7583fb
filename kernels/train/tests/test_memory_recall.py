"""Issue 24's training pieces: the batched delta rule equals the segment-by-segment reference; recall tasks write
each asked value in full in an earlier segment, mask it where asked and label only there; the grafted model keeps
the shipped weights and adds memory projections."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import model as model_mod  # noqa: E402
from data import MASK  # noqa: E402
from memory_recall import mem_delta_docs  # noqa: E402
from recall_tasks import add_recall, name_bank  # noqa: E402


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
    from recall_tasks import Encode
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
