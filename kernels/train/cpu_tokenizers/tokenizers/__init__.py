"""A stand-in for the HF `tokenizers` package on a machine without PyPI (the project's 2-core CPU box): the same
`Tokenizer.from_file(...).encode(...).ids` / `encode_batch` calls, answered by the extension's own
@huggingface/tokenizers in a Node child process (server.mjs beside this folder): ids, and offsets as code-point
ranges (byte-level BPE through GPT-2's byte table; word-level models by each token's place in the text).
Use: PYTHONPATH=kernels/train/cpu_tokenizers python3 ... (run from the repo root, after npm ci)."""
import json
import os
import shutil
import subprocess

SERVER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "server.mjs")


class Encoding:
    def __init__(self, ids, offsets):
        self.ids, self.offsets = ids, [tuple(o) for o in offsets]


class Tokenizer:
    def __init__(self, path):
        self.path = path
        root = os.path.dirname(os.path.dirname(os.path.dirname(SERVER)))     # node_modules is at the repo root
        self.proc = subprocess.Popen(["node", SERVER, os.path.abspath(path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, cwd=os.path.dirname(root), text=True,
                                     encoding="utf-8", errors="surrogatepass")

    @classmethod
    def from_file(cls, path):
        return cls(path)

    def save(self, path):
        if os.path.abspath(path) != os.path.abspath(self.path):
            shutil.copyfile(self.path, path)

    def encode_batch(self, texts, add_special_tokens=True):
        assert not add_special_tokens, "the project always encodes with add_special_tokens=False"
        self.proc.stdin.write(json.dumps({"texts": list(texts)}) + "\n")
        self.proc.stdin.flush()
        out = json.loads(self.proc.stdout.readline())
        return [Encoding(ids, offs) for ids, offs in zip(out["ids"], out["offsets"])]

    def encode(self, text, add_special_tokens=True):
        return self.encode_batch([text], add_special_tokens)[0]
