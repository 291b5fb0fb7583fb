"""The lexical side as training sees it: words of a text (identifiers split on camelCase / snake_case / digits,
lower-cased, stop words dropped, a plural "s" folded) and Okapi BM25 (k1 1.2, b 0.75, as SQLite FTS5's bm25()).
An approximation of the extension's lexical ranker (FTS5 with a porter stemmer and column weights), used to mine
hard negatives (pairs/hard_negatives.py) and to select checkpoints for the hybrid (ValSet.hybrid_mrr).
"""
import re

import numpy as np

from .pairs.build_pairs import name_words

TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
STOP = set("""a an the of to in on for and or is are be by with as at from this that it its if else return
returns true false none null self def function var let const new not into when which then than can will
given all any each use used using get set""".split())
K1, B = 1.2, 0.75


def words(text):
    out = []
    for m in TOKEN.finditer(text):
        for w in name_words(m.group()):
            if len(w) < 2 or w in STOP:
                continue
            out.append(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w)
    return out


def bm25_weight(tf, df, n_docs, dl, avg_dl):
    """Okapi BM25 weight of a term in a document: tf occurrences, df documents of n_docs hold it, the document has
    dl words (avg_dl on average). Elementwise over numpy arrays that broadcast together."""
    idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5))
    return idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * dl / max(float(avg_dl), 1e-9)))


def bm25_dense(queries, docs):
    """BM25 scores [len(queries), len(docs)] (float32) of word lists; dense over the queries' vocabulary only,
    so it suits a few thousand queries and documents (val), not the whole train set (hard_negatives.py)."""
    vocab = {}
    for q in queries:
        for w in q:
            vocab.setdefault(w, len(vocab))
    tf = np.zeros((len(docs), max(1, len(vocab))), dtype=np.float32)
    dl = np.zeros(len(docs), dtype=np.float32)
    for i, d in enumerate(docs):
        dl[i] = len(d)
        for w in d:
            j = vocab.get(w)
            if j is not None:
                tf[i, j] += 1
    df = (tf > 0).sum(0).astype(np.float32)
    w = bm25_weight(tf, df[None, :], len(docs), dl[:, None], dl.mean()).astype(np.float32)   # [docs, V]
    q = np.zeros((len(queries), w.shape[1]), dtype=np.float32)
    for i, ws in enumerate(queries):
        for t in set(ws):
            q[i, vocab[t]] = 1
    return q @ w.T
