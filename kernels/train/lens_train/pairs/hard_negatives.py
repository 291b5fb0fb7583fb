"""Run 7: lexical hard negatives for the contrastive batches (the DPR recipe: BM25 negatives).

For every original train pair (pairs.jsonl.xz of a pack), the K other pairs whose *code* BM25 ranks highest for
this pair's *query* — functions that share the query's words but are not its target. Batches built from such
neighbourhoods teach the encoder what lexical search cannot tell apart, which is exactly what the hybrid asks of
the dense side (it re-orders lexical's candidates).

Words and BM25 as lexical.py (sparse here: every pair against every pair). Neighbours whose code or query text equals the pair's own are
left out (vendored copies would be false negatives). Writes PACK/hardneg.npy: int32 [pairs, K], -1 padded, rows in
pairs.jsonl.xz order. Needs numpy + scipy (this machine's python3 has them; the GPU machine does not need this).

python3 -m lens_train.pairs.hard_negatives --data .r5data [--k 16]
"""
import argparse
import json
import lzma
import os
import time

import numpy as np
import scipy.sparse as sp

from ..lexical import bm25_weight, words


def bm25_matrices(queries, docs):
    """Q (binary, [nq, V]) and the BM25-weighted D ([nd, V]) so that Q @ D.T is the BM25 score."""
    vocab = {}
    def rows(texts):
        ind, ptr, val = [], [0], []
        for t in texts:
            counts = {}
            for w in t:
                j = vocab.setdefault(w, len(vocab))
                counts[j] = counts.get(j, 0) + 1
            ind += counts.keys()
            val += counts.values()
            ptr.append(len(ind))
        return ind, ptr, val
    di, dp, dv = rows(docs)
    qi, qp, qv = rows(queries)
    V = len(vocab)
    D = sp.csr_matrix((np.array(dv, dtype=np.float32), di, dp), shape=(len(docs), V))
    Q = sp.csr_matrix((np.ones(len(qi), dtype=np.float32), qi, qp), shape=(len(queries), V))
    df = np.bincount(D.indices, minlength=V).astype(np.float32)
    dl = np.asarray(D.sum(axis=1)).ravel()
    D = D.tocoo()
    D.data = bm25_weight(D.data, df[D.col], len(docs), dl[D.row], dl.mean()).astype(np.float32)
    return Q, D.tocsr()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="a pack (pairs/pack.py) with pairs.jsonl.xz and files.jsonl.xz")
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--block", type=int, default=2048)
    args = ap.parse_args()
    t0 = time.time()
    pairs = [json.loads(line) for line in lzma.open(os.path.join(args.data, "pairs.jsonl.xz"), "rt")]
    files, pkg = {}, {}
    for line in lzma.open(os.path.join(args.data, "files.jsonl.xz"), "rt"):
        f = json.loads(line)
        files[f["id"]], pkg[f["id"]] = f["text"].split("\n"), f["pkg"]
    code = ["\n".join(files[p["file_id"]][p["start_line"] - 1:p["end_line"]]) for p in pairs]
    Q, D = bm25_matrices([words(p["query"]) for p in pairs], [words(c) for c in code])
    print(f"{len(pairs)} pairs, vocabulary {Q.shape[1]}, {time.time() - t0:.0f}s", flush=True)
    code_key = np.array([hash(c.strip()) for c in code])
    query_key = np.array([hash(p["query"].strip().lower()) for p in pairs])
    out = np.full((len(pairs), args.k), -1, dtype=np.int32)
    DT = D.T.tocsc()
    own_rank = []
    for s in range(0, len(pairs), args.block):
        S = (Q[s:s + args.block] @ DT).toarray()                          # [block, pairs]
        for r in range(S.shape[0]):
            i = s + r
            own = S[r, i]
            same = (code_key == code_key[i]) | (query_key == query_key[i])  # itself and its copies
            S[r, same] = -1.0
            top = np.argpartition(-S[r], args.k)[:args.k]
            top = top[np.argsort(-S[r, top])]
            top = top[S[r, top] > 0]
            out[i, :len(top)] = top
            own_rank.append(int((S[r] > own).sum()))
        print(f"  {min(s + args.block, len(pairs))}/{len(pairs)} {time.time() - t0:.0f}s", flush=True)
    np.save(os.path.join(args.data, "hardneg.npy"), out)
    own_rank = np.array(own_rank)
    stats = dict(pairs=len(pairs), k=args.k, filled=float((out >= 0).mean()), sec=time.time() - t0,
                 target_bm25_top1=float((own_rank == 0).mean()), target_bm25_top10=float((own_rank < 10).mean()))
    pp = np.array([pkg[p["file_id"]] for p in pairs])
    m = out >= 0
    stats["same_pkg_share"] = float((pp[np.where(m, out, 0)] == pp[:, None])[m].mean())
    json.dump(stats, open(os.path.join(args.data, "hardneg_stats.json"), "w"), indent=1)
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
