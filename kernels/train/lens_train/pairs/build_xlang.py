"""Run 9: docstring -> function pairs from the optional Go and Java sources of training-sources.md
(golang-1.19-src, openjdk-17-source): more pairs of exactly the eval's kind (first sentence of a function's doc
comment -> the function without it) than the four eval languages' packages hold, for the English <-> code
mapping that the 52k original pairs are too few to generalise.

  Java: a method (modifiers, return type, name, '(' ... '{') right under a /** Javadoc */ (annotations between
        allowed); {@code x} / {@link x} -> x, HTML tags dropped.
  Go:   `func [(recv)] Name(` right under its `//` doc lines.
Same sentence filter as the doc pairs (build_pairs.first_sentence), bodies of 3..200 lines, the first 80 kept,
at most 40 pairs a file, exact duplicates dropped, test files and testdata/ skipped.

# sources (Debian 12 packages, as training-sources.md allows):
#   apt-get download openjdk-17-source golang-1.19-src; dpkg-deb -x each; unzip .../lib/src.zip -d java
python3 -m lens_train.pairs.build_xlang --java /tmp/xlang/java --go /tmp/xlang/golang-1.19-src --out .r5data
-> OUT/xlang_pairs.jsonl.xz (kind "xdoc") and OUT/xlang_stats.json
"""
import argparse
import json
import lzma
import multiprocessing as mp
import os
import random
import re
import time

from .build_pairs import MAX_BODY, MAX_LINES, brace_end, doc_before, first_sentence

PER_FILE = 40
JAVA_DEF = re.compile(r"^\s*(?:(?:public|private|protected|static|final|abstract|synchronized|native|default|strictfp)\s+)*"
                      r"(?:<[^>]+>\s+)?[\w.$<>\[\],?]+(?:\s*<[^>]*>)?(?:\[\])*\s+([a-z_$][\w$]*)\s*\([^;]*$")
JAVA_CTOR = re.compile(r"^\s*(?:(?:public|private|protected)\s+)?([A-Z][\w$]*)\s*\([^;]*$")   # run 10: constructors
JAVA_NOT = {"return", "new", "else", "throw", "case", "if", "for", "while", "switch", "catch", "synchronized"}
GO_DEF = re.compile(r"^func\s+(?:\([^)]*\)\s*)?([A-Za-z_]\w*)\s*[\[(]")
JAVADOC_TAG = re.compile(r"\{@(?:code|link|linkplain|literal|value)\s+([^}]*)\}")


def clean_javadoc(doc):
    doc = JAVADOC_TAG.sub(lambda m: m.group(1).split("#")[-1].strip(), doc)
    return re.sub(r"<[^>]+>", "", doc)


def java_pairs(text, ctors=False):
    """ctors (--ctors, run 10): documented constructors too."""
    lines = text.split("\n")
    out = []
    for i, line in enumerate(lines):
        m = JAVA_DEF.match(line) or (JAVA_CTOR.match(line) if ctors else None)
        if not m or line.lstrip().split(" ")[0] in JAVA_NOT or "=" in line.split("(")[0]:
            continue
        doc, _ = doc_before(lines, i)
        if not doc or not doc.lstrip().startswith("*") and "@" in doc[:2]:
            continue
        e = brace_end(lines, i)
        if e < 0:
            continue
        out.append((m.group(1), clean_javadoc(doc.lstrip("*").strip()), lines[i:e + 1]))
    return out


def go_pairs(text):
    lines = text.split("\n")
    out = []
    for i, line in enumerate(lines):
        m = GO_DEF.match(line)
        if not m:
            continue
        j = i
        while j > 0 and lines[j - 1].startswith("//"):
            j -= 1
        if j == i:
            continue
        doc = "\n".join(l[2:].strip() for l in lines[j:i] if not l.startswith("//go:"))
        e = brace_end(lines, i)
        if e < 0:
            continue
        out.append((m.group(1), doc, lines[i:e + 1]))
    return out


def file_pairs(job):
    path, lang, pkg, ctors = job
    try:
        text = open(path, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError):
        return []
    out = []
    for name, doc, body in (java_pairs(text, ctors) if lang == "java" else go_pairs(text)):
        if not 3 <= len(body) <= MAX_BODY:
            continue
        q = first_sentence(doc, name)
        if q and "@" not in q[:1]:
            out.append(dict(kind="xdoc", lang=lang, pkg=pkg, query=q, code="\n".join(body[:MAX_LINES])))
        if len(out) >= PER_FILE:
            break
    return out


def jobs(java_root, go_root, ctors):
    out = []
    for root, lang, ext in ((java_root, "java", ".java"), (go_root, "go", ".go")):
        if not root:
            continue
        for d, dirs, files in os.walk(root):
            dirs[:] = sorted(x for x in dirs if x not in ("testdata", "test", "tests"))
            rel = os.path.relpath(d, root).split(os.sep)
            pkg = f"{lang}:{rel[0]}" if lang == "java" else f"go:{'/'.join(rel[-2:])}"
            for f in sorted(files):
                if f.endswith(ext) and not f.endswith("_test.go") and "Test" not in f:
                    out.append((os.path.join(d, f), lang, pkg, ctors))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--java")
    ap.add_argument("--go")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-java", type=int, default=60000)
    ap.add_argument("--max-go", type=int, default=30000)
    ap.add_argument("--show", type=int, default=0)
    ap.add_argument("--ctors", action="store_true", help="documented Java constructors too (run 10)")
    a = ap.parse_args()
    t0 = time.time()
    work = jobs(a.java, a.go, a.ctors)
    with mp.Pool(os.cpu_count()) as pool:
        found = [p for r in pool.imap(file_pairs, work, chunksize=32) for p in r]
    seen, uniq = set(), []
    for p in found:
        k = (p["query"], p["code"])
        if k not in seen:
            seen.add(k)
            uniq.append(p)
    rng = random.Random(9191)
    keep = []
    for lang, cap in (("java", a.max_java), ("go", a.max_go)):
        ps = [p for p in uniq if p["lang"] == lang]
        keep += ps if len(ps) <= cap else rng.sample(ps, cap)
    keep.sort(key=lambda p: (p["pkg"], p["query"], p["code"]))
    with lzma.open(os.path.join(a.out, "xlang_pairs.jsonl.xz"), "wt", preset=9) as f:
        for p in keep:
            f.write(json.dumps(p) + "\n")
    stats = dict(files=len(work), found=len(found), unique=len(uniq), kept=len(keep),
                 java=sum(p["lang"] == "java" for p in keep), go=sum(p["lang"] == "go" for p in keep),
                 packages=len({p["pkg"] for p in keep}), sec=time.time() - t0,
                 bytes=os.path.getsize(os.path.join(a.out, "xlang_pairs.jsonl.xz")))
    json.dump(stats, open(os.path.join(a.out, "xlang_stats.json"), "w"), indent=1)
    print(json.dumps(stats))
    for p in rng.sample(keep, min(a.show, len(keep))):
        print("----", p["lang"], p["pkg"], repr(p["query"]))
        print("\n".join(p["code"].split("\n")[:4]))


if __name__ == "__main__":
    main()
