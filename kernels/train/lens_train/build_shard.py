#!/usr/bin/env python3
"""Build the encoder training shard from the sources unpacked by build_corpus.sh.

Steps
  1. collect source files per package (Python debs: .py; npm: .js/.ts from the package's
     source folder; C: .c/.h from the glibc and xorg-server tarballs);
  2. filter: skip *.min.js, *.d.ts, map/bundle folders, compiled twins (X.cjs/X.mjs next to X.js,
     X.js next to X.ts), files > 300 KB, minified files (avg line > 250 chars or a line > 5000),
     undecodable files (> 0.1% U+FFFD after decoding with errors='replace');
  3. drop exact duplicates (sha256 of the decoded text; first in sorted order wins);
  4. drop every file that contains the body of a dev-eval target function (fingerprints below);
  5. run the shared eval builder (/work/shared/eval/build_eval.py) on all kept files, in chunks of
     a few MB per package, with no query cap: it picks every eligible documented function (its own
     filters: 4-40 word first sentence, not test code/constructor/trivial/>200 lines, query text not
     elsewhere in the chunk, no duplicate queries) and blanks its doc in the corpus copy (line
     numbers unchanged);
  6. subsample per language group to a byte budget (py 45% / js+ts 30% / c 25% of --budget-mib),
     taking files that carry pairs first, non-test before test files, otherwise random (fixed seed);
  7. write files.jsonl.xz, pairs.jsonl.xz, pairs_val.jsonl.xz and STATS.md.

Standard library only.  Deterministic (sorted walks, fixed seeds).

Usage: build_shard.py [--work /tmp/lens-data] [--out .data] [--budget-mib 0] [--dry-run]
"""
from __future__ import annotations

import argparse
import fnmatch
import functools
import hashlib
import json
import lzma
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

SHARED_EVAL = os.environ.get('LENS_SHARED_EVAL', '/work/shared/eval')


@functools.lru_cache(maxsize=None)
def _shared_kit():
    """The project's shared eval builder (a script outside the repo), loaded from its file."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('build_eval', os.path.join(SHARED_EVAL, 'build_eval.py'))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod                     # its dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def chunk_key(src, ts_module):
    """What the shared builder's output for one staged chunk depends on: the chunk's files, the builder, its seed
    and the TypeScript parser version. A build folder stamped with the same key is reused (the builder is the
    slow part: ~45 min of the shard on 2 busy cores)."""
    h = hashlib.sha256()
    for path in (os.path.join(SHARED_EVAL, 'build_eval.py'), os.path.join(SHARED_EVAL, 'build_eval_js.mjs'),
                 os.path.join(ts_module, 'package.json')):
        h.update(open(path, 'rb').read() if os.path.exists(path) else b'-')
    h.update(str(SEED).encode())
    for d, _, fs in sorted(os.walk(src)):
        for f in sorted(fs):
            p = os.path.join(d, f)
            h.update(os.path.relpath(p, src).encode() + b'\0' + hashlib.sha256(open(p, 'rb').read()).digest())
    return h.hexdigest()


def is_test_path(path):
    return _shared_kit().is_test_path(path)


SEED = 20261127
MAX_BYTES = 300_000
MAX_AVG_LINE = 250
MAX_LINE = 5000
CHUNK_BYTES = 6_000_000          # builder's leak check is quadratic-ish per run: keep runs small
SHARE = {'python': 0.45, 'js': 0.30, 'c': 0.25}
EXT = {'.py': 'python', '.js': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript',
       '.jsx': 'javascript', '.ts': 'typescript', '.mts': 'typescript', '.cts': 'typescript',
       '.tsx': 'typescript', '.c': 'c', '.h': 'c'}
GROUP = {'python': 'python', 'javascript': 'js', 'typescript': 'js', 'c': 'c'}
SKIP_FILES = ['*.min.js', '*.min.mjs', '*.d.ts', '*.d.mts', '*.d.cts', '*.bundle.js', '*.map']
SKIP_DIRS = {'node_modules', '__pycache__', '.git', 'dist', 'min', 'bundles', 'umd'}

PY_DEBS = ['libpython3.11-stdlib', 'libpython3.11-minimal', 'python3-numpy', 'python3-scipy',
           'python3-pandas', 'python3-matplotlib', 'python3-sklearn', 'python3-statsmodels',
           'python3-astropy', 'python3-sqlalchemy', 'mercurial', 'mercurial-common', 'python3-nova',
           'python3-cinder', 'python3-neutron', 'calibre', 'python3-numba', 'python3-mne',
           'python3-biopython', 'python3-dask', 'python3-xarray', 'python3-nltk', 'python3-mypy',
           'python3-pygments', 'python3-pip']
# npm: (unpacked dir name, source sub-folder, extra excluded folders). The sub-folder is the package's
# real source where it ships one (src/ or lib/), else the published ESM tree.
NPM = [('phaser', 'src', []), ('ol', '.', []), ('webpack', 'lib', []), ('pixi.js', 'lib', []),
       ('babylonjs+core', '.', []), ('echarts', 'lib', []), ('puppeteer-core', 'src', []),
       ('typeorm', '.', ['browser']), ('zod', 'src', []), ('mathjs', 'lib/esm', []),
       ('date-fns', '.', ['docs']), ('lodash', '.', ['fp']), ('node-forge', 'lib', []),
       ('graphql', '.', []), ('mocha', 'lib', []), ('jquery', 'src', []), ('moment', 'src', []),
       ('luxon', 'src', []), ('konva', 'lib', []), ('fp-ts', 'es6', []),
       ('pdfjs-dist', '.', ['legacy', 'types', 'image_decoders'])]
C_SRC = [('glibc', 'tar/glibc/glibc-2.36'), ('xorg-server', 'tar/xorg-server/xorg-server')]
# validation: whole packages (one Python, one JS, one TS) and one C part: (pkg, path prefix or '')
VAL = [('python3-nltk', ''), ('luxon', ''), ('zod', ''), ('xorg-server', 'hw/')]


def walk_dirs(root, extra_skip=()):
    """(folder, sorted file names) under root, in sorted order, skipping SKIP_DIRS, extra_skip and linked folders."""
    for dp, dns, fns in os.walk(root):
        dns[:] = sorted(d for d in dns if d not in SKIP_DIRS and d not in extra_skip
                        and not os.path.islink(os.path.join(dp, d)))
        yield dp, sorted(fns)


def is_val(pkg, path):
    """A file of the validation split (VAL: whole packages or one package's path prefix)."""
    return any(pkg == p and path.startswith(pre) for p, pre in VAL)


def walk(root, allowed_langs, extra_skip=()):
    out = []
    for dp, fns in walk_dirs(root, extra_skip):
        names = set(fns)
        for fn in fns:
            ap = os.path.join(dp, fn)
            stem, ext = os.path.splitext(fn)
            lang = EXT.get(ext.lower())
            if lang not in allowed_langs or os.path.islink(ap):
                continue
            if any(fnmatch.fnmatch(fn, p) for p in SKIP_FILES):
                continue
            # compiled twins: keep the source form only
            if ext in ('.cjs', '.mjs') and stem + '.js' in names:
                continue
            if ext in ('.js', '.cjs', '.mjs') and (stem + '.ts' in names or stem + '.tsx' in names):
                continue
            out.append((os.path.relpath(ap, root), ap, lang))
    return out


def collect(work):
    """-> list of (pkg, rel, abspath, lang)"""
    items = []
    for p in PY_DEBS:
        base = os.path.join(work, 'deb', p)
        for rel, ap, lang in walk(base, {'python'}, ('tests', 'test')):
            # shorten Debian prefixes: usr/lib/python3/dist-packages/x -> x
            rel = re.sub(r'^usr/lib/(python3(\.\d+)?/dist-packages/|python3(\.\d+)?/|calibre/)', '', rel)
            items.append((p, rel, ap, lang))
    for name, sub, skip in NPM:
        base = os.path.join(work, 'npm', name, 'package', sub)
        for rel, ap, lang in walk(base, {'javascript', 'typescript'}, tuple(skip)):
            items.append((name, rel, ap, lang))
    for name, base in C_SRC:
        for rel, ap, lang in walk(os.path.join(work, base), {'c'}):
            items.append((name, rel, ap, lang))
    return items


# ---------------------------------------------------------------------------- dev-overlap fingerprints

def norm_line(s):
    return ' '.join(s.split())


def dev_fingerprints(dev_dir):
    """For every dev target: its normalised body lines (signature line skipped; the blanked doc is
    empty) of >= 40 chars, in order.  A training file overlaps a target when it contains a run of
    min(3, n) of them on consecutive long lines (a lone fingerprint must be >= 60 chars).
    Returns (line -> set(target ids), target id -> fingerprint list)."""
    corpus = {}
    with tarfile.open(os.path.join(dev_dir, 'corpus.tar.xz')) as tf:
        for m in tf.getmembers():
            if m.isfile():
                corpus[m.name.split('/', 1)[1]] = tf.extractfile(m).read().decode('utf-8').split('\n')
    index = defaultdict(set)
    fps = {}
    short = defaultdict(list)
    with open(os.path.join(dev_dir, 'queries.jsonl')) as f:
        for ln in f:
            q = json.loads(ln)
            lines = corpus[q['path']][q['start_line']:q['end_line']]      # skip first (signature) line
            fp = [x for x in map(norm_line, lines) if len(x) >= 40]
            if not fp or (len(fp) == 1 and len(fp[0]) < 60):
                # short lines only: the whole non-empty body (>= 3 lines, >= 100 chars) is the fingerprint
                body = [x for x in map(norm_line, lines) if x]
                if len(body) >= 3 and sum(map(len, body)) >= 100:
                    short[body[0]].append(body)
                continue
            fps[q['id']] = fp
            for x in fp:
                index[x].add(q['id'])
    return index, fps, short


def overlaps_dev(text, index, fps, short):
    all_lines = [x for x in map(norm_line, text.split('\n')) if x]
    long_lines = [x for x in all_lines if len(x) >= 40]
    hits = Counter()
    for x in set(long_lines):
        for t in index.get(x, ()):
            hits[t] += 1
    out = []
    for t, n in hits.items():
        fp = fps[t]
        k = min(3, len(fp))
        if n < k:
            continue
        runs = {tuple(fp[j:j + k]) for j in range(len(fp) - k + 1)}
        if any(tuple(long_lines[i:i + k]) in runs for i in range(len(long_lines) - k + 1)):
            out.append(t)
    for i, x in enumerate(all_lines):
        for body in short.get(x, ()):
            if all_lines[i:i + len(body)] == body:
                out.append('short:' + body[0][:40])
    return out


def keep_files(items, st, index, fps, short, max_bytes=MAX_BYTES):
    """Filters 2-4 of the docstring over (pkg, rel, abspath, lang) items, in order: too large, not UTF-8,
    minified, empty, exact duplicate, overlapping a dev target. Counts go into `st`.
    Returns (kept file dicts, overlap log lines)."""
    kept, seen, overlap_log = [], set(), []
    for pkg, rel, ap_, lang in items:
        data = open(ap_, 'rb').read()
        if len(data) > max_bytes:
            st['dropped_too_large'] += 1
            continue
        text = data.decode('utf-8', errors='replace')
        if text.count('\ufffd') > 0.001 * len(text) + 2:
            st['dropped_not_utf8'] += 1
            continue
        lines = text.split('\n')
        if len(text) / max(1, len(lines)) > MAX_AVG_LINE or max(map(len, lines)) > MAX_LINE:
            st['dropped_minified'] += 1
            continue
        if not text.strip():
            st['dropped_empty'] += 1
            continue
        h = hashlib.sha256(text.encode('utf-8')).digest()
        if h in seen:
            st['dropped_duplicate'] += 1
            continue
        seen.add(h)
        hit = overlaps_dev(text, index, fps, short)
        if hit:
            st['dropped_dev_overlap'] += 1
            overlap_log.append(f'{pkg}/{rel}: {",".join(sorted(hit)[:5])}')
            continue
        kept.append(dict(pkg=pkg, path=rel, lang=lang, text=text, nbytes=len(text.encode('utf-8'))))
    return kept, overlap_log


# ---------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--work', default='/tmp/lens-data')
    ap.add_argument('--out', default=os.path.join(os.getcwd(), '.data'))
    ap.add_argument('--budget-mib', type=float, default=0,
                    help='raw text MiB kept over all languages; 0 = the most that keeps the shares exact')
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--dry-run', action='store_true', help='stop after filtering/subsampling')
    args = ap.parse_args()
    work, out = args.work, args.out
    os.makedirs(out, exist_ok=True)
    st = Counter()

    items = collect(work)
    st['candidates_files'] = len(items)
    print(f'{len(items)} candidate files', flush=True)
    index, fps, short = dev_fingerprints(os.path.join(SHARED_EVAL, 'dev'))
    print(f'dev fingerprints: {len(index)} lines for {len(fps)} targets, {sum(map(len, short.values()))} short bodies', flush=True)

    kept, overlap_log = keep_files(items, st, index, fps, short)
    print(dict(st), flush=True)

    avail = Counter()
    for f in kept:
        avail[GROUP[f['lang']]] += f['nbytes']
    print('available bytes after filtering', dict(avail), flush=True)
    if args.dry_run:
        return

    # ---- stage every kept file in chunks (per package) and run the shared builder on each chunk
    stage = os.path.join(work, 'stage')
    build = os.path.join(work, 'build')
    shutil.rmtree(stage, ignore_errors=True)          # build/ stays: a chunk's output is reused by its key
    chunks = []
    cur, cur_pkg, cur_bytes = None, None, 0
    for f in kept:
        if f['pkg'] != cur_pkg or cur_bytes + f['nbytes'] > CHUNK_BYTES:
            cur = f"{f['pkg']}~{len(chunks):03d}"
            chunks.append(cur)
            cur_pkg, cur_bytes = f['pkg'], 0
        cur_bytes += f['nbytes']
        f['chunk'] = cur
        dst = os.path.join(stage, cur, f['path'])
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, 'w', encoding='utf-8', newline='') as fh:
            fh.write(f['text'])
    ts_module = os.path.join(work, 'tools', 'node_modules', 'typescript')

    def run(chunk):
        out, key = os.path.join(build, chunk), chunk_key(os.path.join(stage, chunk), ts_module)
        stamp = os.path.join(build, chunk + '.key')
        if os.path.exists(stamp) and open(stamp).read() == key and os.path.isdir(out):
            return chunk, True                                   # built before from the same input
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, os.path.join(SHARED_EVAL, 'build_eval.py'), '--root',
               f'{chunk}={os.path.join(stage, chunk)}', '--out', out,
               '--name', 'train', '--seed', str(SEED), '--ts-module', ts_module]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            print(f'builder failed on {chunk}:\n{p.stderr[-3000:]}', flush=True)
            return chunk, False
        with open(stamp, 'w') as fh:
            fh.write(key)
        return chunk, True

    print(f'running builder on {len(chunks)} chunks (reused: those built before from the same input)', flush=True)
    failed = []
    with ThreadPoolExecutor(args.jobs) as ex:
        for n, (chunk, ok) in enumerate(ex.map(run, chunks), 1):
            if not ok:
                failed.append(chunk)
            if n % 10 == 0:
                print(f'  {n}/{len(chunks)} chunks', flush=True)
    if failed:
        sys.exit(f'builder failed on {failed}')

    # ---- read back the blanked files and the pairs
    by_key = {}
    for f in kept:
        by_key[f"{f['chunk']}/{f['path']}"] = f
        f['queries'] = []
        p = os.path.join(build, f['chunk'], 'corpus', f['chunk'], f['path'])
        if os.path.exists(p):
            with open(p, encoding='utf-8', newline='') as fh:
                blanked = fh.read()
            assert blanked.count('\n') == f['text'].count('\n'), p
            f['text'] = blanked
        else:
            st['not_in_builder_corpus'] += 1
    for chunk in chunks:
        with open(os.path.join(build, chunk, 'queries.jsonl')) as fh:
            for ln in fh:
                q = json.loads(ln)
                by_key[q['path']]['queries'].append(q)

    # ---- per-group byte budgets: files with pairs first, non-test before test, then random (fixed seed)
    total = args.budget_mib * 2 ** 20 or min(avail[g] / SHARE[g] for g in SHARE)
    budget = {g: SHARE[g] * total for g in SHARE}
    rng = random.Random(SEED)
    order = list(range(len(kept)))
    rng.shuffle(order)
    order.sort(key=lambda i: (not kept[i]['queries'], is_test_path(kept[i]['path'])))
    used = Counter()
    chosen = []
    for i in order:
        g = GROUP[kept[i]['lang']]
        if used[g] + kept[i]['nbytes'] <= budget[g]:
            used[g] += kept[i]['nbytes']
            chosen.append(kept[i])
    st['dropped_subsample'] = len(kept) - len(chosen)
    st['pairs_dropped_subsample'] = sum(len(f['queries']) for f in kept) - sum(len(f['queries']) for f in chosen)
    chosen.sort(key=lambda f: (f['pkg'], f['path']))
    pairs = {'train': [], 'val': []}
    for fid, f in enumerate(chosen):
        f['id'] = fid
        f['split'] = 'val' if is_val(f['pkg'], f['path']) else 'train'
        for q in f['queries']:
            pairs[f['split']].append(dict(file_id=fid, lang=q['language'], query=q['query'],
                                          start_line=q['start_line'], end_line=q['end_line']))
    print('kept bytes', dict(used), flush=True)

    def write_xz(name, rows):
        """rows as xz-compressed JSON lines; a file that already holds exactly these lines is kept (compressing at
        preset 9 takes ~20 min on 2 busy cores, reading it back seconds)."""
        path = os.path.join(out, name)
        text = ''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in rows)
        if os.path.exists(path):
            with lzma.open(path, 'rt', encoding='utf-8', newline='') as fh:
                if fh.read() == text:
                    print(f'{name}: unchanged, kept', flush=True)
                    return os.path.getsize(path)
        with lzma.open(path + '.tmp', 'wt', encoding='utf-8', preset=9, newline='') as fh:
            fh.write(text)
        os.replace(path + '.tmp', path)
        return os.path.getsize(path)

    sizes = {}
    sizes['files.jsonl.xz'] = write_xz('files.jsonl.xz', (
        dict(id=f['id'], pkg=f['pkg'], path=f['path'], lang=f['lang'], split=f['split'], text=f['text'])
        for f in chosen))
    sizes['pairs.jsonl.xz'] = write_xz('pairs.jsonl.xz', pairs['train'])
    sizes['pairs_val.jsonl.xz'] = write_xz('pairs_val.jsonl.xz', pairs['val'])
    with open(os.path.join(out, 'dev_overlap_dropped.txt'), 'w') as fh:
        fh.write('\n'.join(overlap_log) + '\n')

    # ---- stats
    fl = Counter()
    fb = Counter()
    for f in chosen:
        fl[(f['lang'], f['split'])] += 1
        fb[(f['lang'], f['split'])] += f['nbytes']
    pc = Counter((p['lang'], s) for s in pairs for p in pairs[s])
    pk = Counter(f['pkg'] for f in chosen)
    pkp = Counter(by_id['pkg'] for s in pairs for p in pairs[s] for by_id in [chosen[p['file_id']]])
    tot_b = sum(fb.values())
    md = ['# Training shard statistics', '',
          f"files: {len(chosen):,}; bytes: {tot_b:,} ({tot_b / 2**20:.1f} MiB); "
          f"approx tokens (bytes/3.5): {tot_b / 3.5 / 1e6:.1f}M; "
          f"pairs: {len(pairs['train']):,} train + {len(pairs['val']):,} val", '',
          '| lang | split | files | MiB | ~Mtokens | pairs |', '|---|---|---:|---:|---:|---:|']
    for lang in ('python', 'javascript', 'typescript', 'c'):
        for s in ('train', 'val'):
            md.append(f'| {lang} | {s} | {fl[(lang, s)]:,} | {fb[(lang, s)] / 2**20:.1f} | '
                      f'{fb[(lang, s)] / 3.5 / 1e6:.1f} | {pc[(lang, s)]:,} |')
    md += ['', 'Byte share by group: ' + ', '.join(
        f"{g} {100 * sum(v for k, v in fb.items() if GROUP[k[0]] == g) / tot_b:.1f}%" for g in SHARE),
        'Available bytes after filtering (before subsampling): ' + ', '.join(
        f'{g} {avail[g] / 2**20:.1f} MiB' for g in SHARE), '',
        '| filter | files |', '|---|---:|']
    for k in ('candidates_files', 'dropped_too_large', 'dropped_not_utf8', 'dropped_minified', 'dropped_empty',
              'dropped_duplicate', 'dropped_dev_overlap', 'dropped_subsample', 'not_in_builder_corpus',
              'pairs_dropped_subsample'):
        md.append(f'| {k} | {st[k]:,} |')
    md += ['', '| output | bytes |', '|---|---:|'] + [f'| {k} | {v:,} ({v / 2**20:.2f} MiB) |'
                                                     for k, v in sizes.items()]
    md += ['', f'total compressed: {sum(sizes.values()) / 2**20:.2f} MiB', '',
           'Validation split (pairs_val; files marked split=val): ' +
           ', '.join(f'{p}{"/" + pre if pre else ""}' for p, pre in VAL), '',
           '| package | files | pairs |', '|---|---:|---:|']
    md += [f'| {p} | {pk[p]:,} | {pkp[p]:,} |' for p in sorted(pk)]
    with open(os.path.join(out, 'STATS.md'), 'w') as fh:
        fh.write('\n'.join(md) + '\n')
    print('\n'.join(md))


if __name__ == '__main__':
    main()
