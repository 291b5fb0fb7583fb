"""ValSet.hybrid_mrr (vectorised) against a plain per-query form of search/hybrid.ts's default fusion."""
import numpy as np
import torch

from lens_train.chunks import ValSet


def reference(s, L, w, lex_depth, dense_depth):
    out = []
    for i in range(len(s)):
        lex = [j for j in np.argsort(-L[i], kind="stable")[:lex_depth] if L[i, j] > 0]
        dense = list(np.argsort(-s[i], kind="stable")[:dense_depth])
        if i not in lex:
            out.append(0.0)
            continue
        lv = [L[i, j] for j in lex]
        dv = [s[i, j] for j in dense]
        def f(j):
            a = (L[i, j] - min(lv)) / (max(lv) - min(lv)) if max(lv) > min(lv) else 1.0
            b = 0.0
            if j in dense:
                b = (s[i, j] - min(dv)) / (max(dv) - min(dv)) if max(dv) > min(dv) else 1.0
            return (1 - w) * a + w * b
        own = f(i)
        rank = sum(f(j) > own for j in lex)
        out.append(1.0 / (rank + 1) if rank < 10 else 0.0)
    return float(np.mean(out))


def test_hybrid_mrr_matches_reference():
    rng = np.random.default_rng(0)
    for nq, nc in [(30, 500), (12, 25)]:
        s = rng.normal(size=(nq, nc)).astype(np.float32)
        L = np.maximum(rng.normal(size=(nq, nc)), 0).astype(np.float32) * (rng.random((nq, nc)) < 0.2)
        L[np.arange(nq), np.arange(nq)] += rng.random(nq).astype(np.float32) * (rng.random(nq) < 0.8)
        vs = ValSet.__new__(ValSet)
        vs.bm25 = torch.as_tensor(L)
        for w in (0.0, 0.2, 1.0):
            got = vs.hybrid_mrr(torch.as_tensor(s), w=w, lex_depth=40, dense_depth=200)
            assert abs(got - reference(s, L, w, 40, 200)) < 1e-6, (nq, nc, w)
