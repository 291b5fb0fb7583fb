"""Run 17: doc comment -> declaration pairs from the TypeScript declaration files (*.d.ts) of the allowed npm
packages (training-sources.md). The shard holds 200 TypeScript pairs in all, against 30,710 Python ones, and
TypeScript is the weakest language of dense retrieval; the packages' declaration files carry a /** */ comment
on most functions, methods and classes.

  query: the comment's first sentence (build_pairs.first_sentence: 4-40 words, not just the name);
         {@link x} / {@code x} -> x, HTML tags dropped (as build_xlang.py does for Javadoc);
  code:  the declaration without its comment: a function, method, constructor, class, interface or type alias
         (property declarations are skipped), up to the end of its statement (`;` at depth 0, or its closing
         brace), the first 30 lines, inner /** */ comments left out.
Val packages stay out (build_shard.is_val); exact duplicate (query, code) pairs are dropped; at most 4,000 pairs a
package (a seeded sample), so that @babylonjs/core and phaser do not drown the rest.

python3 -m lens_train.pairs.build_dts --work /tmp/lens-data --out .r5data
-> OUT/dts_pairs.jsonl.xz (kind "dts") and OUT/dts_stats.json
"""
import argparse
import bisect
import collections
import json
import os
import random
import re

from ..data import write_jsonl_xz
from .build_pairs import first_sentence
from .build_xlang import clean_javadoc

PER_PKG = 4000
MAX_CODE_LINES = 30
DOC_THEN_DECL = re.compile(r"/\*\*((?:(?!\*/).)*)\*/[ \t]*\n", re.S)
INNER_DOC = re.compile(r"[ \t]*/\*\*(?:(?!\*/).)*\*/[ \t]*\n?", re.S)
MODS = r"(?:(?:export|declare|default|abstract|public|private|protected|static|readonly|async|override)\s+)*"
CALLABLE = re.compile(r"^\s*" + MODS + r"(?:function\s*\*?\s*)?(?:get\s+|set\s+)?([A-Za-z_$][\w$]*)\??\s*(?:<[^(]*>)?\s*\(")
TYPEDECL = re.compile(r"^\s*" + MODS + r"(?:class|interface|type|enum|namespace)\s+([A-Za-z_$][\w$]*)")
CONSTFN = re.compile(r"^\s*" + MODS + r"(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*:\s*(?:<[^>]*>\s*)?\(")
NOT_NAMES = {"if", "for", "while", "switch", "catch", "return", "function", "new", "typeof"}


def declaration(lines, i):
    """The declaration starting at line i: lines up to the end of its statement (a `;` or `}` ending a line at
    bracket depth 0), at most MAX_CODE_LINES."""
    depth, out = 0, []
    for line in lines[i:i + MAX_CODE_LINES]:
        out.append(line)
        code = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`|//.*$", "", line).rstrip()
        depth += sum(code.count(c) for c in "{([") - sum(code.count(c) for c in "})]")
        if depth <= 0 and code.endswith((";", "}")):
            break
    return "\n".join(out)


def file_pairs(text):
    out, lines = [], text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    for m in DOC_THEN_DECL.finditer(text):
        start = bisect.bisect_right(starts, m.end()) - 1
        if start >= len(lines):
            continue
        head = lines[start]
        mm = CALLABLE.match(head) or TYPEDECL.match(head) or CONSTFN.match(head)
        if not mm or mm.group(1) in NOT_NAMES:
            continue
        doc = clean_javadoc(re.sub(r"^\s*\*\s?", "", m.group(1), flags=re.M))
        query = first_sentence(doc, mm.group(1))
        if not query:
            continue
        code = INNER_DOC.sub("", declaration(lines, start)).rstrip()
        if len(code) < 8:
            continue
        out.append((query, code))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/lens-data")
    ap.add_argument("--out", default=".r5data")
    ap.add_argument("--seed", type=int, default=1717)
    a = ap.parse_args()
    from ..build_mlm_shard import collect_dts
    from ..build_shard import is_val
    items = [it for it in collect_dts(a.work) if not is_val(it[0], it[1])]
    rng = random.Random(a.seed)
    st = collections.Counter(files=len(items))
    seen, by_pkg = set(), collections.defaultdict(list)
    for pkg, rel, path, _ in sorted(items):
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError):
            st["unreadable"] += 1
            continue
        ps = by_pkg[pkg]
        for q, c in file_pairs(text):
            if (q, c) in seen:
                st["duplicate"] += 1
                continue
            seen.add((q, c))
            ps.append(dict(kind="dts", query=q, code=c, pkg=pkg, lang="typescript"))
    rows = []
    for pkg, ps in sorted(by_pkg.items()):
        if len(ps) > PER_PKG:
            st["capped"] += len(ps) - PER_PKG
            ps = rng.sample(ps, PER_PKG)
        st["pkg:" + pkg] = len(ps)
        rows += ps
    st["pairs"] = len(rows)
    os.makedirs(a.out, exist_ok=True)
    write_jsonl_xz(os.path.join(a.out, "dts_pairs.jsonl.xz"), rows)
    json.dump(dict(st), open(os.path.join(a.out, "dts_stats.json"), "w"), indent=1, sort_keys=True)
    print(json.dumps(dict(st), sort_keys=True))


if __name__ == "__main__":
    main()
