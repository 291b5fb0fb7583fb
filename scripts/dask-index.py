#!/usr/bin/python3
"""Sharded index build on Dask distributed: one task per shard, each running the CLI's
`index <folder> --shard i/n --index-dir <out>/shard-i`, then `merge` of the shards into <out>/merged.

  /usr/bin/python3 scripts/dask-index.py <folder> --shards N --out DIR [--scheduler-file F | --scheduler ADDR]
      [--cli dist/cli.js] [-- <more index flags, e.g. --embed --memory on>]

Workers need the folder and <out> at the same paths (one machine, or shared storage) and node on PATH. Without
--scheduler/--scheduler-file a LocalCluster of N single-threaded worker processes is started. Debian package:
python3-distributed. docs/scale.md shows the same CLI as a Kubernetes Indexed Job.
"""
import argparse
import os
import socket
import subprocess
import sys
import time

from distributed import Client, LocalCluster


def run_shard(cli, folder, i, n, out, extra):
    """One shard on whichever worker Dask picks; raises with the CLI's own message when it fails."""
    t0 = time.time()
    dest = os.path.join(out, f"shard-{i}")
    cmd = ["node", cli, "index", folder, "--shard", f"{i}/{n}", "--index-dir", dest, *extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"shard {i}/{n} failed (rc {p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
    return {"shard": i, "dir": dest, "host": socket.gethostname(), "pid": os.getpid(),
            "seconds": round(time.time() - t0, 2), "summary": p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--shards", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--scheduler")
    ap.add_argument("--scheduler-file")
    ap.add_argument("--cli", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dist", "cli.js"))
    args, extra = ap.parse_known_args()
    extra = [x for x in extra if x != "--"]
    if args.shards < 1:
        ap.error("--shards must be at least 1")
    folder, out, cli = os.path.abspath(args.folder), os.path.abspath(args.out), os.path.abspath(args.cli)
    if not os.path.isdir(folder):
        ap.error(f"not a folder: {folder}")
    if not os.path.isfile(cli):
        ap.error(f"no CLI bundle at {cli} (node scripts/build.mjs)")
    os.makedirs(out, exist_ok=True)

    cluster = None
    if args.scheduler_file:
        client = Client(scheduler_file=args.scheduler_file)
    elif args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=args.shards, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        workers = client.scheduler_info()["workers"]
        print(f"dask: {len(workers)} workers at {client.scheduler.address}; {args.shards} shard tasks", flush=True)
        t0 = time.time()
        futures = [client.submit(run_shard, cli, folder, i, args.shards, out, extra, key=f"index-shard-{i}-of-{args.shards}", pure=False)
                   for i in range(args.shards)]
        results = client.gather(futures)
        who = client.who_has(futures)
        for r, f in zip(results, futures):
            print(f"shard {r['shard']}/{args.shards} on worker {', '.join(who.get(f.key, ())) or '?'} (pid {r['pid']}) in {r['seconds']} s: {r['summary']}", flush=True)
        print(f"all shards in {time.time() - t0:.1f} s", flush=True)
    finally:
        client.close()
        if cluster:
            cluster.close()
    merged = os.path.join(out, "merged")
    p = subprocess.run(["node", cli, "merge", *[r["dir"] for r in sorted(results, key=lambda r: r["shard"])], "--index-dir", merged, *model_flags(extra)])
    sys.exit(p.returncode)


def model_flags(extra):
    """The index flags that merge needs too (which model's vectors to index)."""
    out = []
    for k, v in zip(extra, extra[1:] + [None]):
        if k == "--model" and v:
            out += [k, v]
    return out


if __name__ == "__main__":
    main()
