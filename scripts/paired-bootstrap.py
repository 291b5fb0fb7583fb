#!/usr/bin/env python3
"""Paired bootstrap of the MRR@10 difference between two run files on one eval set, each query scored by the
shared kit's own scorer (bm25_baseline.score on that query alone, so the hit rule is the kit's).

  python3 scripts/paired-bootstrap.py --set /tmp/evaldev A.jsonl B.jsonl [--kit /work/shared/eval] [--resamples 10000]

Prints MRR@10 of A and B, A - B with its 95 % interval, how many queries A ranks better / worse, and A's own
95 % interval. Standard library only; seeded, so a rerun prints the same numbers.
"""
import argparse
import json
import os
import random
import sys


def per_query(score, queries, path):
    run = {}
    for line in open(path):
        r = json.loads(line)
        run[r["id"]] = r["results"]
    return [score([q], run)["MRR@10"] for q in queries]


def interval(values, rng, resamples):
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    return means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", required=True)
    ap.add_argument("--kit", default=os.environ.get("LENS_SHARED_EVAL", "/work/shared/eval"))
    ap.add_argument("--resamples", type=int, default=10000)
    ap.add_argument("a")
    ap.add_argument("b")
    args = ap.parse_args()
    sys.path.insert(0, args.kit)
    from bm25_baseline import score
    queries = [json.loads(l) for l in open(os.path.join(args.set, "queries.jsonl"))]
    a, b = per_query(score, queries, args.a), per_query(score, queries, args.b)
    d = [x - y for x, y in zip(a, b)]
    n = len(d)
    lo, hi = interval(d, random.Random(0), args.resamples)
    alo, ahi = interval(a, random.Random(1), args.resamples)
    print(f"MRR@10 A {sum(a) / n:.4f} (95% {alo:.4f} .. {ahi:.4f})  B {sum(b) / n:.4f}  A-B {sum(d) / n:+.4f} "
          f"(95% {lo:+.4f} .. {hi:+.4f})  A better on {sum(x > 0 for x in d)}, worse on {sum(x < 0 for x in d)} "
          f"of {n} queries")


if __name__ == "__main__":
    main()
