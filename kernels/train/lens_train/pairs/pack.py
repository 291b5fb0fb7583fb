"""Run 5: pack what contrastive training needs from the full shard into a small folder that travels to the
GPU machine (the carry limit is 64 MiB with the repo): the shard's val files (val set + distractors), a
seeded subset of train files for the aux masked-token stream (flag `aux`), every train pair's function
with up to CTX context lines either side as its own small file (same pkg/lang/split; lines renumbered), and
the extra pairs (ident / doc / comment, pairs/build_pairs.py) built here over ALL train files.

python3 -m lens_train.pairs.pack --data .data --out .r5data [--aux-mb 14]
"""
import argparse
import collections
import json
import os
import random

from ..data import load_shard, write_jsonl_xz
from .build_pairs import build

CTX = 5
VIRTUAL = 10_000_000                                        # ids of the per-pair files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=".data")
    ap.add_argument("--out", default=".r5data")
    ap.add_argument("--aux-mb", type=float, default=14)
    ap.add_argument("--seed", type=int, default=4321)
    ap.add_argument("--limit", type=float, default=3600, help="wall-clock cap of the extra-pair builder")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    files, pairs, pairs_val = load_shard(a.data)
    fmap = {f["id"]: f for f in files}
    train = [f for f in files if f["split"] == "train"]
    extra, st = build(train, pairs, a.limit, seed=a.seed)
    print(json.dumps(st), flush=True)
    out_files = [f for f in files if f["split"] == "val"]
    rng = random.Random(a.seed)
    pool = list(train)
    rng.shuffle(pool)
    size = 0
    for f in pool:                                          # aux masked-token stream: a seeded subset
        if size > a.aux_mb * 2**20:
            break
        out_files.append(dict(f, aux=True))
        size += len(f["text"])
    out_pairs = []
    for i, p in enumerate(pairs):                           # each train pair's function (+ context) alone
        f = fmap[p["file_id"]]
        lines = f["text"].split("\n")
        s, e = p["start_line"], min(p["end_line"], len(lines))
        lo, hi = max(1, s - CTX), min(len(lines), e + CTX)
        vid = VIRTUAL + i
        out_files.append(dict(id=vid, pkg=f["pkg"], path=f"{f['path']}#{s}", lang=f["lang"], split="train",
                              text="\n".join(lines[lo - 1:hi])))
        out_pairs.append(dict(p, file_id=vid, start_line=s - lo + 1, end_line=e - lo + 1))
    for p in extra:
        p.pop("file_id", None)
    write_jsonl_xz(os.path.join(a.out, "files.jsonl.xz"), out_files)
    write_jsonl_xz(os.path.join(a.out, "pairs.jsonl.xz"), out_pairs)
    write_jsonl_xz(os.path.join(a.out, "pairs_val.jsonl.xz"), pairs_val)
    write_jsonl_xz(os.path.join(a.out, "extra_pairs.jsonl.xz"), extra)
    counts = collections.Counter((p["kind"], p["lang"]) for p in extra)
    stats = dict(extra=st, extra_by_kind_lang={f"{k}/{l}": n for (k, l), n in sorted(counts.items())},
                 orig_pairs=len(out_pairs), val_pairs=len(pairs_val),
                 val_files=sum(f["split"] == "val" for f in out_files), aux_files=sum(bool(f.get("aux")) for f in out_files),
                 aux_mib=size / 2**20, bytes={n: os.path.getsize(os.path.join(a.out, n)) for n in os.listdir(a.out)})
    json.dump(stats, open(os.path.join(a.out, "pack_stats.json"), "w"), indent=1)
    print(json.dumps(stats, indent=1))


if __name__ == "__main__":
    main()
