"""Synthetic recall tasks for the compressive memory (issue 24), laid over masked-token batches.

Two tasks, each written in one segment and asked for in a later one, the answer masked where it is asked:
  passkey  a 5-digit key ('passkey = 40617' or 'The pass key is 40617.') written at a random depth, asked in the
           last segment ('passkey = ' then the digits masked);
  code     an identifier taken from real code, defined with a random value (digits, hex or a quoted word) in
           one segment ('\\nNAME = 0x3f2a' / 'const NAME = ...' / '#define NAME ...'), and used later with the value
           masked ('\\nassert NAME == ' / 'expect(NAME).toBe(' / '_Static_assert(NAME == ').
Values are drawn apart from names, so no weight can know them: only the memory can answer. A prefix and its value
are tokenized apart (as evaluate.passkey does), so the value's tokens are the same where written and where asked.
"""
import re

import numpy as np

from data import MASK

DEF_RE = {
    "python": re.compile(r"^([A-Za-z_][A-Za-z0-9_]{3,39})\s*=\s*[^=\s]", re.M),
    "javascript": re.compile(r"\b(?:const|let|var)\s+([A-Za-z_$][\w$]{3,39})\s*=\s*[^=\s]"),
    "typescript": re.compile(r"\b(?:const|let|var)\s+([A-Za-z_$][\w$]{3,39})\s*[:=]"),
    "c": re.compile(r"#\s*define\s+([A-Za-z_]\w{3,39})\s+\S"),
}
# (definition prefix, use prefix) per language family; the value follows each prefix
FORMS = {
    "python": ("\n{n} = ", "\nassert {n} == "),
    "javascript": ("\nconst {n} = ", "\nexpect({n}).toBe("),
    "c": ("\n#define {n} ", "\n_Static_assert({n} == "),
}
PASSKEY_FORMS = (("\npasskey = ", "\npasskey = "),
                 ("\nThe pass key is ", "\nThe pass key is "))


def name_bank(files, per_lang=4000, seed=0):
    """[(lang family, name)]: identifiers defined in the files (distinct names, at most per_lang a family)."""
    rng = np.random.default_rng(seed)
    seen, out = set(), {"python": [], "javascript": [], "c": []}
    for f in files:
        fam = "javascript" if f["lang"] == "typescript" else f["lang"]
        for m in DEF_RE[f["lang"]].finditer(f["text"]):
            n = m.group(1)
            if n not in seen:
                seen.add(n)
                out[fam].append(n)
    bank = []
    for fam, names in out.items():
        names = sorted(names)
        pick = rng.permutation(len(names))[:per_lang]
        bank += [(fam, names[i]) for i in sorted(pick)]
    return bank


def random_value(rng):
    """A value no weight can know: 3-8 digits, 0x + 4-8 hex digits, or a quoted random lowercase word."""
    k = rng.random()
    if k < 0.45:
        return "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(3, 9))))
    if k < 0.75:
        return "0x" + "".join(rng.choice(list("0123456789abcdef"), int(rng.integers(4, 9))))
    return "'" + "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), int(rng.integers(4, 9)))) + "'"


class Encode:
    """Token ids of short strings, cached (the same prefixes recur)."""

    def __init__(self, tok):
        self.tok, self.cache = tok, {}

    def __call__(self, s):
        if s not in self.cache:
            self.cache[s] = np.array(self.tok.encode(s, add_special_tokens=False).ids, dtype=np.int64)
        return self.cache[s]


def code_item(enc, bank, rng):
    fam, n = bank[int(rng.integers(len(bank)))]
    d, u = FORMS[fam]
    return enc(d.format(n=n)), enc(u.format(n=n)), enc(random_value(rng))


def passkey_item(enc, rng):
    d, u = PASSKEY_FORMS[int(rng.integers(len(PASSKEY_FORMS)))]
    key = "".join(str(x) for x in rng.integers(0, 10, 5))
    return enc(d), enc(u), enc(key)


def place(busy, s, n, rng, T, margin=0):
    """A free start for n tokens in segment s (None after 8 tries)."""
    for _ in range(8):
        p = int(rng.integers(margin, T - n - margin))
        if not busy[s, p:p + n].any():
            return p
    return None


def insert(inp, labels, busy, ask, kind, item, j, s, rng):
    """Write item (def prefix, use prefix, value) in segment j (visible, unlabelled) and ask for it in segment s
    (use prefix visible, the value masked and labelled). Rows are the segments of one sequence."""
    dpre, upre, val = item
    T = inp.shape[1]
    pw = place(busy, j, len(dpre) + len(val), rng, T)
    pq = place(busy, s, len(upre) + len(val), rng, T)
    if pw is None or pq is None:
        return False
    w = np.concatenate([dpre, val])
    inp[j, pw:pw + len(w)] = w
    labels[j, pw:pw + len(w)] = -100
    busy[j, pw:pw + len(w)] = True
    a = pq + len(upre)
    inp[s, pq:a] = upre
    labels[s, pq:a] = -100
    inp[s, a:a + len(val)] = MASK
    labels[s, a:a + len(val)] = val
    busy[s, pq:a + len(val)] = True
    ask[s, a:a + len(val)] = kind
    return True


def add_recall(inp, labels, nseg, enc, bank, rng, passkey_p=0.5, max_facts=16):
    """Lay recall tasks over a masked-token batch in place: per sequence a passkey (probability passkey_p; written
    at a random depth, asked in the last segment) and 1..min(max_facts, max(2, nseg)) code definitions, each asked
    for in a later segment. Returns ask [S, T] int8: 1 code value, 2 passkey digit, 0 elsewhere."""
    S, T = inp.shape
    ask = np.zeros((S, T), dtype=np.int8)
    if nseg < 2:
        return ask
    for b in range(S // nseg):
        r = slice(b * nseg, (b + 1) * nseg)
        seq_inp, seq_lab, seq_ask = inp[r], labels[r], ask[r]
        busy = np.zeros((nseg, T), dtype=bool)
        if rng.random() < passkey_p:
            insert(seq_inp, seq_lab, busy, seq_ask, 2, passkey_item(enc, rng), int(rng.integers(0, nseg - 1)),
                   nseg - 1, rng)
        for _ in range(int(rng.integers(1, min(max_facts, max(2, nseg)) + 1))):
            j = int(rng.integers(0, nseg - 1))
            insert(seq_inp, seq_lab, busy, seq_ask, 1, code_item(enc, bank, rng), j,
                   int(rng.integers(j + 1, nseg)), rng)
    return ask
