#!/usr/bin/env python3
"""Build the masked-token shard: every allowed train file, not the subsample that the contrastive shard keeps.

The contrastive shard (build_shard.py, .data) subsamples to fit the device's carry limit next to its pairs,
and skips TypeScript declaration files. Masked-token pretraining needs neither the pairs nor the doc blanking,
so this shard holds, with build_shard.py's filters (size, UTF-8, minified, exact duplicates, dev-target
overlap):
  - every source file build_shard.py collects (Python, JavaScript/TypeScript, C), text as shipped;
  - the npm packages' TypeScript declaration files (*.d.ts: types and doc comments, no bodies), up to
    --max-dts-bytes each, since TypeScript sources are scarce in the allowed packages;
  - nothing of the validation packages (build_shard.VAL), so val stays unseen.
It writes OUT/files.jsonl.xz (the format of load_shard; no pair files) and OUT/STATS.md.
Standard library only; deterministic (sorted walks).

Usage: build_mlm_shard.py [--work /tmp/lens-data] [--out .mlmdata]
       build_mlm_shard.py --work /tmp/memory/lens-data --out ../../.memdata --memory-mib 60   (memory_shard: issue 24)
"""
from __future__ import annotations

import argparse
import fnmatch
import lzma
import json
import os
from collections import Counter

from .build_shard import NPM, SHARED_EVAL, VAL, collect, dev_fingerprints, is_val, keep_files, walk_dirs

DTS = ['*.d.ts', '*.d.mts', '*.d.cts']


def collect_dts(work):
    """(pkg, rel, abspath, 'typescript') for the declaration files of each npm package, whole package."""
    items = []
    for name, _, skip in NPM:
        base = os.path.join(work, 'npm', name, 'package')
        for dp, fns in walk_dirs(base, skip):
            for fn in fns:
                ap = os.path.join(dp, fn)
                if any(fnmatch.fnmatch(fn, p) for p in DTS) and not os.path.islink(ap):
                    items.append((name, os.path.relpath(ap, base), ap, 'typescript'))
    return items


def write_xz(path, rows):
    """rows (dicts with a split) as files.jsonl.xz lines, ids renumbered."""
    with lzma.open(path + ".tmp", "wt", encoding="utf-8", preset=9) as fh:
        for i, f in enumerate(rows):
            fh.write(json.dumps(dict(id=i, pkg=f["pkg"], path=f["path"], lang=f["lang"], split=f["split"],
                                     text=f["text"]), ensure_ascii=False) + "\n")
    os.replace(path + ".tmp", path)


def memory_shard(args):
    """--memory-mib N: the compact shard of the memory-recall runs (issue 24), small enough to travel to the GPU
    machine next to the tree: the same filters and dev-overlap check over whatever part of the sources WORK holds;
    OUT/files.jsonl.xz = train files capped at N MiB of text by round robin over packages (package order),
    OUT/val.jsonl.xz = the validation split's files (VAL), from which the recall probes take filler and names."""
    os.makedirs(args.out, exist_ok=True)
    st = Counter()
    index, fps, short = dev_fingerprints(os.path.join(SHARED_EVAL, "dev"))
    items = collect(args.work)
    kept, _ = keep_files(items, st, index, fps, short)
    for f in kept:
        f["split"] = "val" if is_val(f["pkg"], f["path"]) else "train"
    kept.sort(key=lambda f: (f["pkg"], f["path"]))
    # a cap by round robin over packages, so every package keeps a share when the text is over the cap
    by_pkg = {}
    for f in kept:
        if f["split"] == "train":
            by_pkg.setdefault(f["pkg"], []).append(f)
    train, budget, total = [], args.memory_mib * 2**20, 0
    queues = [list(v) for _, v in sorted(by_pkg.items())]
    while queues and total < budget:
        for q in queues:
            if q and total < budget:
                f = q.pop(0)
                train.append(f)
                total += f["nbytes"]
        queues = [q for q in queues if q]
    train.sort(key=lambda f: (f["pkg"], f["path"]))
    val = [f for f in kept if f["split"] == "val"]
    write_xz(os.path.join(args.out, "files.jsonl.xz"), train)
    write_xz(os.path.join(args.out, "val.jsonl.xz"), val)
    nb = Counter()
    for f in train + val:
        nb[(f["split"], f["pkg"])] += f["nbytes"]
    md = ["# Memory-recall shard", "", f"train files {len(train):,} ({total / 2**20:.1f} MiB of text), "
          f"val files {len(val):,}; files.jsonl.xz {os.path.getsize(os.path.join(args.out, 'files.jsonl.xz')):,} "
          f"bytes, val.jsonl.xz {os.path.getsize(os.path.join(args.out, 'val.jsonl.xz')):,} bytes", "",
          "| split | package | MiB |", "|---|---|---:|"]
    md += [f"| {s} | {p} | {b / 2**20:.1f} |" for (s, p), b in sorted(nb.items())]
    md += ["", "| filter | count |", "|---|---:|"] + [f"| {k} | {v:,} |" for k, v in sorted(st.items())]
    open(os.path.join(args.out, "STATS.md"), "w").write("\n".join(md) + "\n")
    print("\n".join(md))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--work', default='/tmp/lens-data')
    ap.add_argument('--out', default=os.path.join(os.getcwd(), '.mlmdata'))
    ap.add_argument('--max-dts-bytes', type=int, default=8_000_000)
    ap.add_argument('--memory-mib', type=float, default=0, help='the memory-recall shard instead (memory_shard)')
    args = ap.parse_args()
    if args.memory_mib:
        return memory_shard(args)
    os.makedirs(args.out, exist_ok=True)
    st = Counter()
    index, fps, short = dev_fingerprints(os.path.join(SHARED_EVAL, 'dev'))
    groups = {'source': collect(args.work), 'declarations': collect_dts(args.work)}
    kept = []
    for g, items in groups.items():
        items = [it for it in items if not is_val(it[0], it[1])]
        st[f'{g}_candidates'] = len(items)
        k, _ = keep_files(items, st, index, fps, short,
                          **({'max_bytes': args.max_dts_bytes} if g == 'declarations' else {}))
        for f in k:
            f['group'] = g
        kept += k
        print(g, len(k), 'kept', dict(st), flush=True)
    kept.sort(key=lambda f: (f['pkg'], f['path']))
    path = os.path.join(args.out, 'files.jsonl.xz')
    with lzma.open(path + '.tmp', 'wt', encoding='utf-8', preset=9) as fh:
        for i, f in enumerate(kept):
            fh.write(json.dumps(dict(id=i, pkg=f['pkg'], path=f['path'], lang=f['lang'], split='train',
                                     text=f['text']), ensure_ascii=False) + '\n')
    os.replace(path + '.tmp', path)
    by = Counter()
    nb = Counter()
    for f in kept:
        by[(f['group'], f['lang'])] += 1
        nb[(f['group'], f['lang'])] += f['nbytes']
    tot = sum(nb.values())
    md = ['# Masked-token shard statistics', '',
          f'files: {len(kept):,}; bytes: {tot:,} ({tot / 2**20:.1f} MiB); files.jsonl.xz: '
          f'{os.path.getsize(path):,} bytes; validation packages left out: '
          + ', '.join(f'{p}{"/" + pre if pre else ""}' for p, pre in VAL), '',
          '| group | lang | files | MiB |', '|---|---|---:|---:|']
    md += [f'| {g} | {lang} | {by[(g, lang)]:,} | {nb[(g, lang)] / 2**20:.1f} |' for g, lang in sorted(by)]
    md += ['', '| filter | count |', '|---|---:|'] + [f'| {k} | {v:,} |' for k, v in sorted(st.items())]
    with open(os.path.join(args.out, 'STATS.md'), 'w') as fh:
        fh.write('\n'.join(md) + '\n')
    print('\n'.join(md))


if __name__ == '__main__':
    main()
