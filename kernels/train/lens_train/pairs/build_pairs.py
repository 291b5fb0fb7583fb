"""Run 4: more (query, code) pairs from the allowed train files (train split only; the shard already
dropped files overlapping the dev set and holds val packages apart as split "val").
  ident: query = a function's name split into lower-case words (>= 2 words, not generic); code = the
         function, its name in the definition line replaced by a placeholder half of the time.
  doc:   functions with a docstring / doc comment that the eval builder did not select: query = its first
         sentence (4-40 words, not just the name); code = the function without the doc.
  comment (run 5): a run of full-line comments (`#` / `//`, or a `/* */` of <= 8 lines) in prose (4-40 words, not commented-out code)
         followed by a block of code: query = the comment's first sentence; code = the block (2-30 lines,
         up to a blank line or a dedent), the comment itself left out.
Python via `ast`; JS/TS and C via line heuristics (definition regexes + brace matching). Standard library,
multiprocessing, bounded by a wall-clock limit (whatever is built by then is used).
"""
import ast
import multiprocessing as mp
import os
import random
import re
import time
import zlib

MAX_LINES = 80                  # code side: first lines of the function (the encoder keeps <= 384 tokens)
MAX_BODY = 200                  # longer functions are skipped (as the eval builder does)
PER_FILE = 80                   # ident pairs per file at most (big generated files would dominate)
PER_FILE_COMMENT = 40           # comment pairs per file at most
CODEY = re.compile(r"[=;{}()\[\]<>]|\b(?:def|return|import|var|let|const|if|for|while)\b")
HOLE = "fn"                     # placeholder for the hidden name
GENERIC = {"main", "init", "get", "set", "run", "setup", "teardown", "constructor", "call", "apply",
           "to string", "update", "render", "create", "handle", "process", "execute", "start", "stop"}
KEYWORDS = {"if", "for", "while", "switch", "catch", "return", "function", "else", "do", "with", "new",
            "typeof", "sizeof", "defined", "super", "await", "yield", "delete", "void", "throw", "case"}

WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def name_words(name):
    return [w.lower() for part in name.split("_") for w in WORD.findall(part)]


def ident_query(name):
    w = name_words(name)
    q = " ".join(w)
    if len(w) < 2 or q in GENERIC or w[0] == "test" or name.startswith("__"):
        return None
    return q


def first_sentence(doc, name):
    doc = re.sub(r"\s+", " ", re.split(r"\n\s*\n|\n\s*@|\n\s*:param|\n\s*Parameters\b|\n\s*Args:", doc.strip())[0])
    s = re.split(r"(?<=[.!?])\s", doc)[0].strip()
    w = s.split()
    if not 4 <= len(w) <= 40 or s.lower().rstrip(".") == " ".join(name_words(name)):
        return None
    if s.lower().startswith(("deprecated", "todo", "fixme", ":param", "@param")):
        return None
    return s


def hide(line, name):
    return re.sub(r"\b%s\b" % re.escape(name), HOLE, line, count=1)


# ------------------------------------------------------------------ python
def py_functions(text):
    """(name, start, end, doc, doc_start, doc_end) of every function (1-based inclusive lines)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    out = []
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno:
            doc, ds, de = ast.get_docstring(n), 0, 0
            if doc and n.body and isinstance(n.body[0], ast.Expr):
                ds, de = n.body[0].lineno, n.body[0].end_lineno
            out.append((n.name, n.lineno, n.end_lineno, doc, ds, de))
    return out


# ------------------------------------------------------------------ js / ts / c
JS_DEF = re.compile(r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)\s*\("
                    r"|^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:async\s+)?(?:function\b|\([^)]*\)\s*=>|[A-Za-z_$][\w$]*\s*=>)"
                    r"|^\s*(?:[\w$.]+\.)?([A-Za-z_$][\w$]*)\s*[:=]\s*(?:async\s+)?function\b"
                    r"|^\s*(?:(?:public|private|protected|static|async|override|readonly|get|set)\s+)*([A-Za-z_$][\w$]*)\s*(?:<[^>]*>)?\s*\([^;()]*\)\s*(?::\s*[^{;=]+)?\{\s*$")
C_DEF = re.compile(r"^(?:[A-Za-z_][\w\s\*]*?[\s\*])?([A-Za-z_]\w*)\s*\([^;]*$")


def brace_end(lines, i, limit=MAX_BODY + 10):
    """Line index where the block opened at/after line i closes (naive brace count), or -1."""
    depth, opened = 0, False
    for j in range(i, min(len(lines), i + limit)):
        s = re.sub(r"'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"|//.*$", "", lines[j])
        for ch in s:
            if ch == "{":
                depth, opened = depth + 1, True
            elif ch == "}":
                depth -= 1
                if opened and depth == 0:
                    return j
        if not opened and j > i + 6:
            return -1
        if not opened and s.rstrip().endswith(";"):
            return -1
    return -1


def doc_before(lines, i):
    """Text and first line index of a /* */ or /** */ comment ending right above line i."""
    j = i - 1
    while j >= 0 and lines[j].strip().startswith("@") and not lines[j].strip().startswith("@param"):
        j -= 1                                                    # decorators
    if j < 0 or not lines[j].rstrip().endswith("*/"):
        return None, i
    k = j
    while k >= 0 and "/*" not in lines[k]:
        k -= 1
    if k < 0 or j - k > 60:
        return None, i
    body = "\n".join(lines[k:j + 1])
    body = re.sub(r"^\s*/\*+|\*+/\s*$", "", body.strip())
    body = "\n".join(re.sub(r"^\s*\*\s?", "", l) for l in body.split("\n"))
    return body, k


def brace_functions(text, lang):
    lines = text.split("\n")
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if lang == "c":
            m = C_DEF.match(line) if line[:1].isalpha() or line[:1] == "_" else None
            name = m.group(1) if m else None
        else:
            m = JS_DEF.match(line)
            name = next((g for g in m.groups() if g), None) if m else None
        if not name or name in KEYWORDS:
            i += 1
            continue
        e = brace_end(lines, i)
        if e < 0:
            i += 1
            continue
        start = i
        if lang == "c" and i > 0 and lines[i - 1].strip() and re.match(r"^[A-Za-z_][\w\s\*]*$", lines[i - 1]) \
                and not lines[i - 1].rstrip().endswith((";", "}")):
            start = i - 1                                         # GNU style: return type on its own line
        doc, dk = doc_before(lines, start)
        out.append((name, start + 1, e + 1, doc, dk + 1, start, i + 1))
        i = e + 1 if lang == "c" else i + 1                       # js: methods inside classes/objects too
    return out


# ------------------------------------------------------------------ comment -> block
def comment_blocks(lines, lang):
    """(query, first code line, last code line) (0-based inclusive) of prose comments above a code block."""
    mark = "#" if lang == "python" else "//"
    out, i = [], 0
    while i < len(lines):
        s = lines[i].strip()
        if lang != "python" and s.startswith("/*") and not s.startswith("/**"):   # C-style line comment block
            j = i
            while j < len(lines) and j - i < 8 and "*/" not in lines[j]:
                j += 1
            if j - i >= 8 or j >= len(lines) or lines[j].strip()[-2:] != "*/":
                i = j + 1
                continue
            body = " ".join(lines[i:j + 1]).strip()[2:-2]
            text = [re.sub(r"^\s*\*\s?", "", t) for t in body.split("\n")]
            j += 1
            indent = len(lines[i]) - len(lines[i].lstrip())
            k = j
            while k < len(lines) and k - j < 30 and lines[k].strip() and \
                    len(lines[k]) - len(lines[k].lstrip()) >= indent and not lines[k].strip().startswith("/*"):
                k += 1
            i = j
            if indent == 0 and k > j and C_DEF.match(lines[j]):                   # a function's doc: 'doc' pairs
                continue
            words = " ".join(text).replace("*", " ").split()
        elif not s.startswith(mark) or s.startswith(("#!", "# -*-", "#include", "#define", "#if", "#endif", "#else",
                                                   "#pragma", "#undef", "///")):
            i += 1
            continue
        else:
            j, text = i, []
            while j < len(lines) and lines[j].strip().startswith(mark):
                text.append(lines[j].strip()[len(mark):].strip())
                j += 1
            indent = len(lines[i]) - len(lines[i].lstrip())
            k = j
            while k < len(lines) and k - j < 30 and lines[k].strip() and \
                    len(lines[k]) - len(lines[k].lstrip()) >= indent and not lines[k].strip().startswith(mark):
                k += 1
            i = j
            words = " ".join(text).split()
        if k - j < 2 or not 4 <= len(words) <= 60:
            continue
        q = re.split(r"(?<=[.!?])\s", " ".join(words))[0].strip()
        qw = q.split()
        if not 4 <= len(qw) <= 40 or len(CODEY.findall(q)) > 1 or sum(w.isalpha() for w in qw) < 0.7 * len(qw):
            continue
        if q.lower().startswith(("todo", "fixme", "xxx", "noqa", "pylint", "type:", "eslint", "copyright",
                                 "license", "see ", "http")):
            continue
        out.append((q, j, k - 1))
    return out


# ------------------------------------------------------------------ per file
def file_pairs(args):
    f, taken, seed = args
    rng = random.Random(seed ^ f["id"])
    text, lang = f["text"], f["lang"]
    lines = text.split("\n")
    out, n_ident = [], 0
    if lang == "python":
        fns = [(n, s, e, d, ds, de, s) for n, s, e, d, ds, de in py_functions(text)]
    else:
        fns = [(n, s, e, d, 0, 0, defl) for n, s, e, d, _, _, defl in brace_functions(text, lang)]
    for name, s, e, doc, ds, de, defl in fns:
        if e - s + 1 > MAX_BODY or e - s < 1:
            continue
        body = lines[s - 1:e]
        if any(not (e < a or s > b) for a, b in taken):            # selected by the eval builder: skip
            continue
        q = ident_query(name)
        if q and n_ident < PER_FILE:
            code = list(body)
            if rng.random() < 0.5:
                k = defl - s
                code[k] = hide(code[k], name)
            out.append(dict(kind="ident", query=q, code="\n".join(code[:MAX_LINES])))
            n_ident += 1
        if doc:
            sq = first_sentence(doc, name)
            if sq:
                code = list(body)
                if ds:                                             # python: blank the docstring lines
                    for k in range(ds - s, de - s + 1):
                        code[k] = ""
                rest = [l for l in code if l.strip()]
                if len(rest) >= 3:
                    out.append(dict(kind="doc", query=sq, code="\n".join(code[:MAX_LINES])))
    n_comment = 0
    for q, a, b in comment_blocks(lines, lang):
        if n_comment >= PER_FILE_COMMENT or any(not (b + 1 < x or a + 1 > y) for x, y in taken):
            continue
        block = lines[a:b + 1]
        ind = min(len(l) - len(l.lstrip()) for l in block if l.strip())
        out.append(dict(kind="comment", query=q, code="\n".join(l[ind:] for l in block)))
        n_comment += 1
    for p in out:
        p["file_id"], p["pkg"], p["lang"] = f["id"], f["pkg"], lang
    return out


def build(files, pairs, limit_s=60, procs=None, seed=4321):
    """Extra pairs from the train files; stops collecting after limit_s seconds."""
    t0 = time.time()
    taken = {}
    for p in pairs:
        taken.setdefault(p["file_id"], []).append((p["start_line"], p["end_line"]))
    work = [(f, taken.get(f["id"], []), seed) for f in files if f["split"] == "train"]
    work.sort(key=lambda w: zlib.crc32(w[0]["path"].encode()))   # mix languages/packages over time
    out, done = [], 0
    with mp.Pool(procs or min(16, os.cpu_count() or 1)) as pool:
        for r in pool.imap_unordered(file_pairs, work, chunksize=16):
            out += r
            done += 1
            if time.time() - t0 > limit_s:
                pool.terminate()
                break
    seen, uniq = set(), []
    for p in out:                                                  # exact duplicates (vendored copies)
        k = (p["kind"], p["query"], p["code"])
        if k not in seen:
            seen.add(k)
            uniq.append(p)
    uniq.sort(key=lambda p: (p["file_id"], p["kind"], p["query"]))    # deterministic order
    return uniq, dict(files_done=done, files=len(work), sec=time.time() - t0,
                      ident=sum(p["kind"] == "ident" for p in uniq), doc=sum(p["kind"] == "doc" for p in uniq),
                      comment=sum(p["kind"] == "comment" for p in uniq))


if __name__ == "__main__":
    import argparse
    import collections
    import json
    import sys
    from ..data import load_shard
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=".r3data")
    ap.add_argument("--limit", type=float, default=60)
    ap.add_argument("--every", type=int, default=1, help="use every k-th file (quick checks)")
    ap.add_argument("--show", type=int, default=0)
    a = ap.parse_args()
    files, pairs, _ = load_shard(a.data)
    out, st = build(files[::a.every], pairs, a.limit)
    print(json.dumps(st))
    print(collections.Counter((p["kind"], p["lang"]) for p in out))
    for p in random.Random(0).sample(out, min(a.show, len(out))):
        print("----", p["kind"], p["lang"], repr(p["query"]))
        print("\n".join(p["code"].split("\n")[:6]))
