"""Data for the encoder: the shard (.data/), the byte-level BPE tokenizer, and the batch builders.

Shard schema (kernels/train/data/build_shard.py): files.jsonl.xz {id,pkg,path,lang,text,split},
pairs.jsonl.xz / pairs_val.jsonl.xz {file_id,lang,query,start_line,end_line} (1-based inclusive lines;
the doc of every pair's function is already blanked in `text`, as in the eval corpus).
"""
import json
import lzma
import os
import random
import tarfile

import numpy as np

PAD, MASK, DOC, QRY = 0, 1, 2, 3
SPECIAL = ["<pad>", "<mask>", "<doc>", "<qry>"]
CODE_EXT = (".py", ".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".c", ".h")   # the dev corpus


def read_jsonl_xz(path):
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def write_jsonl_xz(path, rows):
    with lzma.open(path, "wt", encoding="utf-8", preset=6) as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def load_shard(data_dir):
    """files, train pairs, val pairs; a masked-token shard (data/build_mlm_shard.py) has files only."""
    def rows(name):
        p = os.path.join(data_dir, name)
        return read_jsonl_xz(p) if os.path.exists(p) else []
    return rows("files.jsonl.xz"), rows("pairs.jsonl.xz"), rows("pairs_val.jsonl.xz")


def load_shard_or_synthetic(data_dir):
    """The shard when `data_dir` holds one, else synthetic data (smoke runs before the shard exists)."""
    if os.path.exists(os.path.join(data_dir, "files.jsonl.xz")):
        return load_shard(data_dir)
    print("no shard: synthetic data", flush=True)
    return synthetic_shard()


def synthetic_shard(n_files=300, seed=0):
    """Code-like files with docstring pairs, for smoke tests before the shard exists."""
    rng = random.Random(seed)
    words = ["parse", "value", "node", "index", "buffer", "config", "token", "stream", "cache", "tree"]
    files, pairs = [], []
    for fid in range(n_files):
        lines, fpairs = [], []
        for k in range(rng.randint(5, 60)):
            name = "_".join(rng.sample(words, 2)) + str(rng.randint(0, 99))
            start = len(lines) + 1
            lines += [f"def {name}(x, y):", f"    total = x + {rng.randint(0, 9)} * y",
                      f"    return {name}_helper(total)", ""]
            fpairs.append(dict(file_id=fid, lang="py", query=f"Compute {name.replace('_', ' ')}",
                               start_line=start, end_line=start + 2))
        split = "val" if fid % 10 == 0 else "train"
        files.append(dict(id=fid, pkg=f"pkg{fid % 7}", path=f"m{fid}.py", lang="py", text="\n".join(lines),
                          split=split))
        pairs += [dict(p, split=split) for p in fpairs]
    return files, [p for p in pairs if p["split"] == "train"], [p for p in pairs if p["split"] == "val"]


# ---------------------------------------------------------------- tokenizer
def train_tokenizer(texts, vocab, out_path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=SPECIAL, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer, length=len(texts))
    tok.save(out_path)
    return tok


def tokenize_files(tok, texts, with_lines=False, batch=4096):
    """ids (np.int32, '<doc>' first) per text; with_lines: 1-based line of each token's last char."""
    out = []
    for i in range(0, len(texts), batch):
        encs = tok.encode_batch(texts[i:i + batch], add_special_tokens=False)
        for text, e in zip(texts[i:i + batch], encs):
            ids = np.empty(len(e.ids) + 1, dtype=np.int32)
            ids[0], ids[1:] = DOC, e.ids
            if not with_lines:
                out.append((ids, None))
                continue
            nl = np.flatnonzero(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32) == 10)
            ends = np.array([max(a, b - 1) for a, b in e.offsets], dtype=np.int64)
            lines = np.empty(len(ids), dtype=np.int32)
            lines[0], lines[1:] = 1, np.searchsorted(nl, ends, side="left") + 1
            out.append((ids, lines))
    return out


# ---------------------------------------------------------------- masked-token pretraining batches
class MLMBatches:
    """Sequences of nseg segments cut from one stream of files (package order, so memory spans related
    files). Memory targets: a span of segment 0 is copied into some segments s >= mem_from, and its
    multi-byte tokens are masked there, so the answer sits only in segment 0 (and the memory)."""

    def __init__(self, stream, cfg, nseg, seqs, mask_p=0.15, splice_p=0.5, mem_from=8, seed=0, facts=None,
                 recall_p=0.0, gap=4, recall_n=4, shuffle_values=False):
        self.stream, self.T, self.nseg, self.seqs = stream, cfg.seg_len, nseg, seqs
        self.vocab, self.mask_p, self.splice_p, self.mem_from = cfg.vocab, mask_p, splice_p, mem_from
        self.facts, self.recall_p, self.gap, self.recall_n = facts, recall_p, gap, recall_n
        self.shuffle_values = shuffle_values      # a value drawn apart from its name: the weights cannot learn it
        self.rng = np.random.default_rng(seed)

    def _place(self, busy, b, s, n):
        """A free position for n tokens in segment s of sequence b (None after 8 tries)."""
        for _ in range(8):
            p = int(self.rng.integers(0, self.T - n))
            if not busy[b, s, p:p + n].any():
                return p
        return None

    def _write_facts(self, ids, busy):
        """Recall facts (fact_bank): 'name = value' written in an early segment j, and 'name = ' with the value
        masked in a segment s >= j + gap; the value is nowhere else. Returns the [B, n, T] mask of the queried
        value tokens (labelled, input masked)."""
        B, n, rng = ids.shape[0], self.nseg, self.rng
        ask = np.zeros(ids.shape, dtype=bool)
        if not self.facts or not self.recall_p or n <= self.gap:  # no draws: the batches of a run without facts
            return ask
        for b in range(B):
            if rng.random() >= self.recall_p:
                continue
            for _ in range(int(rng.integers(1, self.recall_n + 1))):     # 1..recall_n facts a sequence
                pre, val = self.facts[int(rng.integers(len(self.facts)))]
                if self.shuffle_values:                   # (without it a name keeps its bank value: runs 21a, 24)
                    val = self.facts[int(rng.integers(len(self.facts)))][1]
                fact, m = np.concatenate([pre, val]), len(pre) + len(val)
                j = 0 if rng.random() < 0.5 else int(rng.integers(0, n - self.gap))
                s = int(rng.integers(j + self.gap, n))
                pw, pq = self._place(busy, b, j, m), self._place(busy, b, s, m)
                if pw is None or pq is None:
                    continue
                for seg, p in ((j, pw), (s, pq)):                 # written in full, then asked for
                    ids[b, seg, p:p + m] = fact
                    busy[b, seg, p:p + m] = True
                ask[b, s, pq + len(pre):pq + m] = True
        return ask

    def __call__(self):
        T, n, B, rng = self.T, self.nseg, self.seqs, self.rng
        starts = rng.integers(0, len(self.stream) - n * T, size=B)
        ids = np.stack([self.stream[s:s + n * T] for s in starts]).reshape(B, n, T).astype(np.int64)
        spliced = np.zeros_like(ids, dtype=bool)
        for b in range(B):
            ln = int(rng.integers(64, min(257, T)))              # (the same draw as before for T > 256)
            a = int(rng.integers(0, T - ln))
            for s in range(self.mem_from, n):
                if rng.random() < self.splice_p:
                    p = int(rng.integers(0, T - ln))
                    ids[b, s, p:p + ln] = ids[b, 0, a:a + ln]
                    spliced[b, s, p:p + ln] = True
        busy = spliced.copy()
        ask = self._write_facts(ids, busy)
        fact = busy & ~spliced
        labels = np.full_like(ids, -100)
        r = rng.random(ids.shape)
        mem_mask = spliced & (ids >= 260) & (r < 0.5)                 # multi-byte tokens of the copied spans
        rnd_mask = ~spliced & ~fact & (r < self.mask_p) & (ids != PAD)
        labels[mem_mask | rnd_mask | ask] = ids[mem_mask | rnd_mask | ask]
        inp = ids.copy()
        r2 = rng.random(ids.shape)
        inp[mem_mask | ask | (rnd_mask & (r2 < 0.8))] = MASK
        swap = rnd_mask & (r2 >= 0.8) & (r2 < 0.9)
        inp[swap] = rng.integers(4, self.vocab, size=int(swap.sum()))
        seg_doc = np.repeat(np.arange(B), n)
        batch = (inp.reshape(B * n, T), labels.reshape(B * n, T), seg_doc, mem_mask.reshape(B * n, T))
        return batch + (ask.reshape(B * n, T),) if self.facts else batch


def fact_bank(tok, n=4096, seed=0):
    """Synthetic recall facts for MLMBatches: (prefix ids, value ids) of '\\n<name><sep>' and a random value
    (digits, letters or hex). Names are random lowercase words joined by '_' or in camelCase, so only the
    memory can tell one fact's value from another's; a prefix and its value are tokenized apart, as the
    passkey probe (evaluate.passkey) writes them."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    word = lambda lo, hi: "".join(rng.choice(letters, int(rng.integers(lo, hi + 1))))
    out = []
    for _ in range(n):
        parts = [word(3, 7) for _ in range(int(rng.integers(1, 4)))]
        name = "_".join(parts) if rng.random() < 0.6 else parts[0] + "".join(w.title() for w in parts[1:])
        sep = [" = ", ": ", " := ", " -> "][int(rng.choice(4, p=[0.55, 0.2, 0.1, 0.15]))]
        kind = rng.random()
        if kind < 0.5:
            val = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(3, 9))))
        elif kind < 0.75:
            val = word(4, 8)
        else:
            val = "".join(rng.choice(list("0123456789abcdef"), int(rng.integers(6, 11))))
        pre = np.array(tok.encode("\n" + name + sep, add_special_tokens=False).ids, dtype=np.int64)
        ids = np.array(tok.encode(val, add_special_tokens=False).ids, dtype=np.int64)
        out.append((pre, ids))
    return out


def only_in_first_segment(inp, labels, nseg):
    """[S,T] mask of labelled tokens whose answer occurs (unmasked) in segment 0 of their sequence and
    nowhere in segments 1..s (the probe set 'answer only in segment 1')."""
    S, T = inp.shape
    out = np.zeros((S, T), dtype=bool)
    for b in range(S // nseg):
        seq = inp[b * nseg:(b + 1) * nseg]
        first = set(seq[0].tolist())
        seen = set()
        for s in range(1, nseg):
            seen |= set(seq[s].tolist())
            lab = labels[b * nseg + s]
            for t in np.flatnonzero(lab >= 0):
                y = int(lab[t])
                out[b * nseg + s, t] = y in first and y not in seen
    return out


# ---------------------------------------------------------------- segment packing (inference and contrastive)
def segments_of(ids, T):
    n = max(1, -(-len(ids) // T))
    seg = np.zeros((n, T), dtype=np.int64)
    val = np.zeros((n, T), dtype=np.float32)
    flat = seg.reshape(-1)
    flat[:len(ids)] = ids
    val.reshape(-1)[:len(ids)] = 1
    return seg, val


def pack(docs, T, S_fix):
    """Yield fixed-size batches of S_fix segments from many docs. A doc cut at a batch end continues as
    doc 0 of the next batch (carry=True: feed the previous mem_out as mem_in). Short batches are filled
    with one-token dummy docs. Yields (ids, valid, seg_doc, carry, [(doc, seg_index, row)])."""
    items = []
    for d, ids in enumerate(docs):
        seg, val = segments_of(ids, T)
        items += [(d, k, seg[k], val[k]) for k in range(len(seg))]
    prev_last = None
    for i in range(0, len(items), S_fix):
        chunk = items[i:i + S_fix]
        carry = prev_last is not None and chunk[0][0] == prev_last and chunk[0][1] > 0
        ids = np.zeros((S_fix, T), dtype=np.int64)
        val = np.zeros((S_fix, T), dtype=np.float32)
        seg_doc = np.zeros(S_fix, dtype=np.int64)
        where, cur, last_d = [], -1, None
        for r, (d, k, s, v) in enumerate(chunk):
            if d != last_d:
                cur, last_d = cur + 1, d
            ids[r], val[r], seg_doc[r] = s, v, cur
            where.append((d, k, r))
        for r in range(len(chunk), S_fix):
            cur += 1
            val[r, 0], seg_doc[r] = 1, cur
        prev_last = chunk[-1][0]
        yield ids, val, seg_doc, carry, where


def read_dev_corpus(dev_dir):
    """Code files of the dev corpus tarball: paths relative to corpus/ (the scorer's form) and their text."""
    tf = tarfile.open(os.path.join(dev_dir, "corpus.tar.xz"))
    paths, texts = [], []
    for m in tf.getmembers():
        if m.isfile() and m.name.endswith(CODE_EXT):
            paths.append(m.name.split("/", 1)[1])
            texts.append(tf.extractfile(m).read().decode("utf-8", errors="replace"))
    return paths, texts


def write_run(out_path, queries, top_idx, where, top=10):
    """The eval kit's run file: per query its best `top` windows (`where(j)` -> path, first, last line) in the
    order of `top_idx`, a window overlapping one already listed for the same file skipped."""
    with open(out_path, "w") as fh:
        for q, row in zip(queries, top_idx):
            res = []
            for j in row:
                p, a, b = where(j)
                if any(r["path"] == p and not (b < r["start_line"] or a > r["end_line"]) for r in res):
                    continue
                res.append(dict(path=p, start_line=a, end_line=b))
                if len(res) == top:
                    break
            fh.write(json.dumps(dict(id=q["id"], results=res)) + "\n")
