"""Chunk-alone retrieval (run 3): a chunk is encoded by itself as `<doc>` + its tokens (<= 512), dense
attention, zero memory — the `query.onnx` path — and embedded as the L2-normalised mean of `emb`.
Queries: `<qry>` + text (<= 64 tokens), same path. Data, batches, encoding, val MRR, dev run, and loading
weights back from the shipped ONNX files.
"""
import json
import os
import re

import numpy as np
import torch
import torch.nn.functional as F

from .data import DOC, QRY, tokenize_files
from .lexical import bm25_dense, words
from .pairs.build_pairs import name_words

CTX = 5                                                    # context lines kept either side for augmentation
# Run 6 (experiment): a chunk's identifiers split into lower-case words, written before its code, so that query
# words and code identifiers share tokens. Off unless a run's config sets `expand_idents` (set_expand).
EXPAND = {"on": False, "tok": None}
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
KEYWORDS = set("""and as assert async await break case catch class const continue def default del delete do elif
else enum except export extends false finally for from function global if import in instanceof int is lambda let
long new none nonlocal not null or pass raise return self static struct switch this throw true try typedef
typeof undefined unsigned var void while with yield char double float signed sizeof goto union extern register
volatile inline cls args kwargs""".split())
MAX_WORDS = 48


def ident_words(text):
    """Distinct lower-case words of the identifiers of `text` (camelCase / snake_case / digits split), in order of
    first use, language keywords and 1-letter words dropped, at most MAX_WORDS."""
    out, seen = [], set()
    for m in IDENT.finditer(text):
        for w in name_words(m.group()):
            if len(w) > 1 and w.isalpha() and w not in KEYWORDS and w not in seen:
                seen.add(w)
                out.append(w)
                if len(out) >= MAX_WORDS:
                    return out
    return out


def set_expand(tok, on):
    EXPAND["on"], EXPAND["tok"] = bool(on), tok


def word_ids(texts):
    """Token ids of each text's identifier words + a newline (empty lists when expansion is off)."""
    if not EXPAND["on"]:
        return [np.zeros(0, dtype=np.int64) for _ in texts]
    encs = EXPAND["tok"].encode_batch([" ".join(ident_words(t)) + "\n" for t in texts], add_special_tokens=False)
    return [np.array(e.ids, dtype=np.int64) for e in encs]


def dev():
    return "cuda" if torch.cuda.is_available() else "cpu"


def amp():
    import contextlib
    return torch.autocast("cuda", dtype=torch.bfloat16) if dev() == "cuda" else contextlib.nullcontext()


class Spans:
    """Every pair's function lines (+ up to CTX context lines either side), tokenized alone."""

    def __init__(self, tok, fmap, pairs, ctx=CTX):
        texts, self.a, self.n, self.b = [], [], [], []
        for p in pairs:
            lines = fmap[p["file_id"]]["text"].split("\n")
            s, e = p["start_line"], min(p["end_line"], len(lines))
            a, b = min(ctx, s - 1), min(ctx, len(lines) - e)
            texts.append("\n".join(lines[s - 1 - a:e + b]))
            self.a.append(a), self.n.append(e - s + 1), self.b.append(b)
        self.toks = tokenize_files(tok, texts, with_lines=True)          # ids with <doc> first, 1-based lines
        self.words = word_ids(["\n".join(t.split("\n")[a:a + n]) for t, a, n in zip(texts, self.a, self.n)])
        self.pkg = [p["pkg"] for p in pairs]

    def chunk(self, i, max_tok, rng=None, p_ext=0.0):
        """`<doc>` + the function's tokens; with probability p_ext a few context lines either side."""
        ids, lines = self.toks[i]
        a, n, b = self.a[i], self.n[i], self.b[i]
        ea = eb = 0
        if rng is not None and rng.random() < p_ext:
            ea, eb = int(rng.integers(0, a + 1)), int(rng.integers(0, b + 1))
        lo, hi = a + 1 - ea, a + n + eb
        body = ids[1:][(lines[1:] >= lo) & (lines[1:] <= hi)]
        return np.concatenate([[DOC], self.words[i], body])[:max_tok].astype(np.int64)


class TextSpans:
    """Run 4: extra pairs whose code side is given as text (pairs/build_pairs.py), tokenized alone."""

    def __init__(self, tok, pairs, max_tok=512):
        self.toks = [ids[:max_tok] for ids, _ in tokenize_files(tok, [p["code"] for p in pairs])]
        self.words = word_ids([p["code"] for p in pairs])
        self.pkg = [p["pkg"] for p in pairs]

    def chunk(self, i, max_tok, rng=None, p_ext=0.0):
        return np.concatenate([self.toks[i][:1], self.words[i], self.toks[i][1:]])[:max_tok].astype(np.int64)


def query_ids(tok, queries, max_len=64):
    encs = tok.encode_batch(list(queries), add_special_tokens=False)
    return [np.array([QRY] + e.ids[:max_len - 1], dtype=np.int64) for e in encs]


def encode(model, seqs, attn="sdpa", group_tokens=131072):
    """Embeddings [N, E] (L2-normalised, float32) of token sequences, each encoded alone (zero memory).
    Sorted by length and cut into groups of about group_tokens padded tokens (little padding waste)."""
    order = np.argsort([len(s) for s in seqs], kind="stable")
    out = [None] * len(seqs)
    i = 0
    while i < len(order):
        T = len(seqs[order[min(len(order) - 1, i)]])
        j = i
        while j < len(order) and (j - i + 1) * len(seqs[order[j]]) <= max(group_tokens, T):
            j += 1
        grp = order[i:j]
        T = max(len(seqs[k]) for k in grp)
        ids = np.zeros((len(grp), T), dtype=np.int64)
        val = np.zeros((len(grp), T), dtype=np.float32)
        for r, k in enumerate(grp):
            ids[r, :len(seqs[k])], val[r, :len(seqs[k])] = seqs[k], 1
        ids_t, val_t = torch.as_tensor(ids, device=dev()), torch.as_tensor(val, device=dev())
        with amp():
            o = model(ids_t, val_t, attn=attn, memory="query")               # as query.onnx with zero memory
        e = (o["emb"].float() * val_t[..., None]).sum(1) / val_t.sum(1, keepdim=True)   # [g, E]
        e = F.normalize(e, dim=-1)
        for r, k in enumerate(grp):
            out[k] = e[r]
        i = j
    return torch.stack(out)


def windows(n_lines, size=40, stride=20):
    starts = list(range(1, max(1, n_lines - size + stride) + 1, stride)) or [1]
    return [(s, min(n_lines, s + size - 1)) for s in starts]


def window_seqs(tok, texts, max_tok=512, size=40, stride=20):
    """Each 40-line window (stride 20) tokenized alone: `<doc>` + tokens, truncated. -> seqs, (file, a, b)."""
    wt, meta = [], []
    for fi, text in enumerate(texts):
        lines = text.split("\n")
        for a, b in windows(len(lines), size, stride):
            chunk = "\n".join(lines[a - 1:b])
            if chunk.strip():
                wt.append(chunk)
                meta.append((fi, a, b))
    encs = tok.encode_batch(wt, add_special_tokens=False)
    return [np.concatenate([[DOC], w, e.ids])[:max_tok].astype(np.int64) for e, w in zip(encs, word_ids(wt))], meta


class ValSet:
    """Held-out val pairs: each query ranks every val function (chunk alone, no context) plus distractor
    windows from val files that hold no val pair."""

    def __init__(self, tok, fmap, pairs_val, val_files, max_tok=512, max_distract=6000):
        self.spans = Spans(tok, fmap, pairs_val, ctx=0)
        self.code = [self.spans.chunk(i, max_tok) for i in range(len(pairs_val))]
        have = {p["file_id"] for p in pairs_val}
        others = [f["text"] for f in val_files if f["id"] not in have]
        seqs, meta = window_seqs(tok, others, max_tok)
        self.distract = seqs[:max_distract]
        self.q = query_ids(tok, [p["query"] for p in pairs_val])
        # the lexical side of the hybrid on the same candidates (lexical.py's BM25), for hybrid_mrr
        code_text = ["\n".join(fmap[p["file_id"]]["text"].split("\n")[p["start_line"] - 1:p["end_line"]]) for p in pairs_val]
        code_text += ["\n".join(others[fi].split("\n")[a - 1:b]) for fi, a, b in meta[:max_distract]]
        self.bm25 = torch.as_tensor(bm25_dense([words(p["query"]) for p in pairs_val], [words(t) for t in code_text]))

    @torch.no_grad()
    def mrr(self, model):
        was = model.training
        model.eval()
        C = encode(model, self.code + self.distract)
        Q = encode(model, self.q)
        model.train(was)
        s = Q @ C.t()                                                        # [Nq, Nc]
        self.last_scores = s
        return mrr10(s)

    def hybrid_mrr(self, s=None, w=0.2, lex_depth=40, dense_depth=200):
        """MRR@10 of the extension's hybrid (search/hybrid.ts: min-max score fusion, dense weight w — 0.2 was
        HYBRID_DEFAULTS when run 8 selected on it —, candidates = the lexical top `lex_depth`) with BM25 as the
        lexical side, on the dense scores of the last mrr() call."""
        s = (self.last_scores if s is None else s).float()
        L = self.bm25.to(s.device)
        lv, li = L.topk(min(lex_depth, L.shape[1]), dim=1)
        dv = s.topk(min(dense_depth, s.shape[1]), dim=1).values
        def scaled(x, lo, hi):
            return torch.where(hi > lo, (x - lo) / (hi - lo).clamp(min=1e-12), torch.ones_like(x))
        lo = torch.where(lv > 0, lv, torch.full_like(lv, float("inf"))).min(1, keepdim=True).values
        lex = scaled(lv, lo, lv.max(1, keepdim=True).values)                # over the lexical matches only
        ds = s.gather(1, li)                                                 # dense score of each lexical candidate
        dlo, dhi = dv.min(1, keepdim=True).values, dv[:, :1]
        dense = torch.where(ds >= dlo, scaled(ds, dlo, dhi), torch.zeros_like(ds))   # outside the dense list: 0
        fused = torch.where(lv > 0, (1 - w) * lex + w * dense, torch.full_like(lv, -1.0))  # no shared word: no candidate
        n = torch.arange(len(s), device=s.device)[:, None]
        hit = li == n
        f_own = torch.where(hit, fused, torch.full_like(fused, -2.0)).max(1).values      # -2: target not a candidate
        rank = (fused > f_own[:, None]).sum(1)
        ok = f_own >= 0                                                     # a lexical match among the candidates
        return float(torch.where(ok & (rank < 10), 1.0 / (rank + 1).float(), torch.zeros_like(f_own)).mean())


def mrr10(s):
    """MRR@10 of a score matrix whose row i's target is column i."""
    rank = (s > s.diagonal()[:, None]).sum(1)
    return float(torch.where(rank < 10, 1.0 / (rank + 1).float(), torch.zeros_like(rank, dtype=torch.float)).mean())


@torch.no_grad()
def dev_run(model, tok, dev_dir, out_path, max_tok=512, top=10):
    """Dev run file: every code file's 40-line windows (stride 20), each encoded alone; cosine ranking;
    overlapping windows of one file suppressed after the first."""
    from .data import read_dev_corpus, write_run
    paths, texts = read_dev_corpus(dev_dir)
    model.eval()
    seqs, meta = window_seqs(tok, texts, max_tok)
    C = encode(model, seqs)
    queries = [json.loads(l) for l in open(os.path.join(dev_dir, "queries.jsonl"))]
    Q = encode(model, query_ids(tok, [q["query"] for q in queries]))
    top_idx = (Q @ C.t()).topk(min(200, len(seqs)), dim=-1).indices.cpu().numpy()
    write_run(out_path, queries, top_idx, lambda j: (paths[meta[j][0]], meta[j][1], meta[j][2]), top)
    return dict(files=len(paths), windows=len(seqs), tokens=int(sum(len(s) for s in seqs)),
                truncated=int(sum(len(s) >= max_tok for s in seqs)))


def load_from_onnx(model, query_onnx):
    """Load a model's weights from the shipped query graph (fp32, external weights; int8 matrices as q · scale):
    named initializers by name; per block, in graph order, Wqkvᵀ, (W_qkv,mᵀ,) β, Woᵀ, W1ᵀ, W2ᵀ; then W_eᵀ (the
    MatMul/Sigmoid inputs)."""
    import onnx
    from onnx import numpy_helper
    g = onnx.load(query_onnx).graph                                         # reads the weights file beside it
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    unnamed = []
    inits = {t.name: t for t in g.initializer}
    for t in g.initializer:
        name = t.name.removesuffix("__f16").removesuffix("__q8")
        if t.name.endswith("__s8"):                                          # an int8 matrix's row scales
            continue
        a = torch.from_numpy(numpy_helper.to_array(t).astype(np.float32))
        if t.name.endswith("__q8"):                                          # int8 graph (quant8): q · scale
            a = a * torch.from_numpy(numpy_helper.to_array(inits[name + "__s8"]).astype(np.float32))
        if name.startswith("m."):
            sd[name[2:]] = a
        elif name.startswith("onnx::MatMul_") or name.startswith("onnx::Sigmoid_"):
            unnamed.append(a)
    names = []
    for l in range(len(model.blocks)):
        names += [f"blocks.{l}.attn.wqkv.weight"] + [f"blocks.{l}.attn.wqkv_m.weight"] * model.cfg.mem_proj
        names += [f"blocks.{l}.attn.beta", f"blocks.{l}.attn.wo.weight", f"blocks.{l}.ff1.weight",
                  f"blocks.{l}.ff2.weight"]
    names.append("proj.weight")
    assert len(unnamed) == len(names), (len(unnamed), len(names))
    for n, a in zip(names, unnamed):
        sd[n] = a if a.dim() == 1 else a.t().contiguous()
        assert sd[n].shape == model.state_dict()[n].shape, n
    model.load_state_dict(sd)
    return model


def load_model_dir(model_dir, **overrides):
    """The encoder of a model folder (kernels/model or a copy): Config from its model-card.json (the keys that are
    Config fields, then `overrides`), weights from its query graph (load_from_onnx)."""
    import dataclasses
    from .model import Config, Encoder
    card = json.load(open(os.path.join(model_dir, "model-card.json")))
    keys = {f.name for f in dataclasses.fields(Config)}
    cfg = dataclasses.replace(Config(**{k: v for k, v in card["config"].items() if k in keys}), **overrides)
    return load_from_onnx(Encoder(cfg), os.path.join(model_dir, "query.fp32.onnx"))
