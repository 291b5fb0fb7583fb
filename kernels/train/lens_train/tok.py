"""`Tokenizer`: the HF `tokenizers` package where it is installed (the GPU machine), else a stand-in for a machine
without PyPI (the project's 2-core CPU box): the same `Tokenizer.from_file(...).encode(...).ids` / `encode_batch`
calls, answered by the extension's own @huggingface/tokenizers in a Node child process (tok_server.mjs beside this
file, node_modules at the repo root: after npm ci): ids, and offsets as code-point ranges (byte-level BPE through
GPT-2's byte table; word-level models by each token's place in the text)."""
import json
import os
import shutil
import subprocess

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tok_server.mjs")


class Encoding:
    def __init__(self, ids, offsets):
        self.ids, self.offsets = ids, [tuple(o) for o in offsets]


class NodeTokenizer:
    def __init__(self, path):
        self.path = path
        self.proc = subprocess.Popen(["node", SERVER, os.path.abspath(path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, encoding="utf-8", errors="surrogatepass")

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


try:
    from tokenizers import Tokenizer                                         # noqa: F401  (the real package)
except ImportError:
    Tokenizer = NodeTokenizer
