#!/usr/bin/python3
"""Native SQLite's view of an index file a killed writer left behind (scripts/crash-test.mjs runs it on a copy,
before the app reopens the real one). Python's stdlib sqlite3 is an independent SQLite (C, POSIX locks): opening
the copy with its journal rolls a hot journal back the way SQLite means it to.

usage: crash-inspect.py <copy-dir>     (holds index.sqlite and, if the writer left one, index.sqlite-journal)
       crash-inspect.py --vectors A.sqlite B.sqlite   compares two indexes' vectors chunk by chunk (by file path
       and span): {"only_a", "only_b", "common", "max_abs_diff"}
prints one JSON object:
  journal      whether a journal was left
  native       {integrity, files, chunks, embeddings, fts_docs, content}: the copy with its journal (rolled back)
  no_journal   the same for the database file alone (what a reader that ignores the journal would see), or null
  rolled_back  whether the journal changed anything (native content != no_journal content)
Only regular tables are read (this SQLite may be older than the FTS5 options the index uses); PRAGMA
integrity_check covers every b-tree, FTS5's shadow tables included.
"""
import array
import hashlib
import json
import os
import shutil
import sqlite3
import sys

COUNTS = {"files": "files", "chunks": "chunks", "embeddings": "embeddings", "fts_docs": "chunks_fts_docsize"}


def view(db_path):
    con = sqlite3.connect(db_path)
    try:
        integrity = "; ".join(r[0] for r in con.execute("PRAGMA integrity_check").fetchall())
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name")]
        h = hashlib.sha256()
        for t in tables:  # every row of every real table, in a fixed order
            rows = sorted(repr(r) for r in con.execute(f'SELECT * FROM "{t}"'))
            h.update(f"{t}\t{len(rows)}\n".encode())
            for r in rows:
                h.update(r.encode())
        out = {"integrity": integrity, "content": h.hexdigest()}
        for key, table in COUNTS.items():
            out[key] = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] if table in tables else None
        return out
    except sqlite3.DatabaseError as e:
        return {"integrity": f"error: {e}", "content": None}
    finally:
        con.close()


def vectors(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT f.path, c.start_offset, c.end_offset, e.vec FROM embeddings e "
                           "JOIN chunks c ON c.id = e.chunk_id JOIN files f ON f.id = c.file_id").fetchall()
        return {(p, s, e): array.array("f", v) for p, s, e, v in rows}
    finally:
        con.close()


def compare_vectors(a_path, b_path):
    a, b = vectors(a_path), vectors(b_path)
    common = a.keys() & b.keys()
    diff = max((abs(x - y) for k in common for x, y in zip(a[k], b[k])), default=0.0)
    sizes = sum(len(a[k]) != len(b[k]) for k in common)
    print(json.dumps({"only_a": len(a.keys() - b.keys()), "only_b": len(b.keys() - a.keys()), "common": len(common),
                      "size_mismatch": sizes, "max_abs_diff": diff}))


def main():
    if sys.argv[1] == "--vectors":
        return compare_vectors(sys.argv[2], sys.argv[3])
    d = sys.argv[1]
    db, journal = os.path.join(d, "index.sqlite"), os.path.join(d, "index.sqlite-journal")
    has_journal = os.path.exists(journal)
    alone = None
    if has_journal:  # the database without its journal, on a second copy (the first one rolls back below)
        bare = os.path.join(d, "bare")
        os.makedirs(bare, exist_ok=True)
        shutil.copyfile(db, os.path.join(bare, "index.sqlite"))
        alone = view(os.path.join(bare, "index.sqlite"))
    native = view(db)
    print(json.dumps({"journal": has_journal, "native": native, "no_journal": alone,
                      "rolled_back": bool(alone and alone["content"] != native["content"])}))


main()
