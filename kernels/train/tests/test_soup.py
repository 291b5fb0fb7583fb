"""soup.py: the uniform average (exact, non-float tensors from the first state dict), the greedy soup's membership
with a fake scorer (a harmful run is left out), the pick, and a tiny end-to-end run on the synthetic shard whose
output folder evaluate.load reads back."""
import json
import os
import sys

import pytest
import torch

from lens_train.model import Config, Encoder
from lens_train import quant8
from lens_train import soup

TINY = Config(vocab=512, d_model=32, n_layers=1, n_heads=2, n_kv_heads=1, d_head=16, d_ff=48, seg_len=512,
              block=32, emb_dim=16)


def test_uniform_average_exact():
    a = dict(w=torch.arange(6, dtype=torch.float32).reshape(2, 3), h=torch.tensor([1.0, -2.0], dtype=torch.float16),
             r=torch.randn(64, 64), step=torch.tensor(3), mask=torch.tensor([True, False]))
    b = dict(w=a["w"] * 3 + 1, h=torch.tensor([2.0, 4.0], dtype=torch.float16), r=torch.randn(64, 64),
             step=torch.tensor(7), mask=torch.tensor([False, True]))
    m = soup.average([a, b])
    assert torch.equal(m["w"], a["w"] * 2 + 0.5)                          # (w + 3w + 1) / 2, exactly
    assert m["h"].dtype == torch.float16 and torch.equal(m["h"], torch.tensor([1.5, 1.0], dtype=torch.float16))
    assert torch.equal(m["r"], (a["r"] + b["r"]) / 2)                     # float32 sum of two: exact in float64
    assert m["step"] is a["step"] and m["mask"] is a["mask"]              # non-float: the first run's
    one = soup.average([a])
    assert all(torch.equal(one[k], a[k]) and one[k].dtype == a[k].dtype for k in a)


def test_average_loads_into_the_encoder():
    sds = []
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        sds.append(Encoder(TINY).state_dict())
    m = Encoder(TINY)
    m.load_state_dict(soup.average(sds))                                  # every key, shape and dtype fits
    k = "proj.weight"
    assert torch.allclose(m.state_dict()[k], sum(s[k] for s in sds) / 3, atol=1e-7)


def test_greedy_soup_leaves_a_harmful_run_out():
    w = [1.1, 0.95, 5.0, 0.88]                                            # run 2 is far off; the target is 1.0
    states = [dict(w=torch.tensor([x])) for x in w]
    calls = []

    def score(members):                                                   # fake val: closeness of the average to 1
        calls.append(list(members))
        return -abs(float(soup.average([states[i] for i in members])["w"]) - 1.0)

    own = [score([i]) for i in range(4)]
    calls.clear()
    members, val = soup.greedy_soup(own, score)
    # order by own val: 1 (0.95), 0 (1.1), 3 (0.88), 2 (5.0); 0 and 3 each bring the mean closer, 2 does not
    assert calls == [[1, 0], [1, 0, 3], [1, 0, 3, 2]]
    assert members == [1, 0, 3] and val == pytest.approx(-abs((1.1 + 0.95 + 0.88) / 3 - 1.0))
    # every addition hurts: the best run alone; equal val: the run joins ("does not drop")
    assert soup.greedy_soup([0.3, 0.5, 0.1], lambda ms: 0.0) == ([1], 0.5)
    assert soup.greedy_soup([0.3, 0.5], lambda ms: 0.5) == ([1, 0], 0.5)


def test_pick_prefers_the_first_on_a_tie():
    c = [dict(name="a", sel=0.4), dict(name="b", sel=0.45), dict(name="uniform", sel=0.45), dict(name="greedy", sel=0.3)]
    assert soup.pick(c)["name"] == "b"


@pytest.mark.parametrize("force,swa,packed", [(None, False, False), ("uniform", False, False), (None, True, False),
                                              ("uniform_swa", True, False), ("uniform", False, True)])
def test_end_to_end_on_synthetic_data(tmp_path, monkeypatch, force, swa, packed):
    vocab = {f"t{i}": i for i in range(TINY.vocab)}                       # a WordLevel tokenizer.json (stub and HF)
    tj = dict(version="1.0", truncation=None, padding=None, added_tokens=[], normalizer=None,
              pre_tokenizer=dict(type="Whitespace"), post_processor=None, decoder=None,
              model=dict(type="WordLevel", vocab=vocab, unk_token="t1"))
    chunks = dict(val_pairs=24, distractors=30, round_fp16=True, select="dense")
    conf = tmp_path / "conf.json"
    conf.write_text(json.dumps(dict(model=TINY.to_dict(), chunks=chunks)))
    runs = []
    for j, seed in enumerate((0, 1, 2)):
        d = tmp_path / f"run.{'abc'[j]}"
        d.mkdir()
        torch.manual_seed(seed)
        sd = {k: v.half().float() for k, v in Encoder(TINY).state_dict().items()}   # as train_chunks saves them
        ck = dict(model=sd, config=TINY.to_dict(), retrieval=dict(expand_idents=False))
        if packed and j == 2:                                             # an earlier call's soup, carried as int8
            ck = quant8.pack(ck)
        torch.save(ck, d / "ckpt.pt")
        (d / "tokenizer.json").write_text(json.dumps(tj))
        (d / "train_log.json").write_text(json.dumps(dict(summary=dict(val_mrr10_best=-1.0 - j, chunks=chunks), log=[])))
        if swa and j != 1:                                                # run.b kept no snapshots
            snaps = []
            for k in range(2 + j):
                torch.manual_seed(100 * seed + k)
                snaps.append(dict(step=10 * k, sel=0.1, model=Encoder(TINY).state_dict()))
            torch.save(snaps, d / "snapshots.pt")
        runs.append(str(d))
    out = tmp_path / "soup"
    if force:                                                             # the soup chosen, whatever its val
        pick = soup.pick
        monkeypatch.setattr(soup, "pick", lambda cs: next((c for c in cs if c["name"] == force), None) or pick(cs))
    monkeypatch.setattr(sys, "argv", ["soup.py", "--runs", *runs, str(tmp_path / "missing"),
                                      "--data", str(tmp_path / "no-pack"), "--config", str(conf), "--out", str(out)])
    soup.main()
    s = json.load(open(out / "soup.json"))
    names = ["run.a", "run.b", "run.c"] + (["run.a.swa2", "run.c.swa4"] if swa else [])
    assert s["ingredients"] == names
    assert [c["name"] for c in s["candidates"]] == names + ["uniform"] + (["uniform_swa"] if swa else []) + ["greedy"]
    assert s["skipped"] == [str(tmp_path / "missing")]
    # the greedy soup starts from the best ingredient, a single run or an SWA
    assert s["greedy_members"][0] == max(s["candidates"][:len(names)], key=lambda c: c["sel"])["name"]
    chosen = next(c for c in s["candidates"] if c["name"] == s["chosen"])
    assert s["chosen"] == force or chosen["val_mrr10"] == max(c["val_mrr10"] for c in s["candidates"])
    log = json.load(open(out / "train_log.json"))["summary"]
    assert log["val_mrr10_rounded_fp16"] == chosen["val_mrr10"]
    # val_mrr10_best: a single run's own (a marker here), a soup's measured before the rounding
    singles = {"run.a": -1.0, "run.b": -2.0, "run.c": -3.0}
    assert log["val_mrr10_best"] == singles[s["chosen_members"][0]] if len(s["chosen_members"]) == 1 \
        else 0 <= log["val_mrr10_best"] <= 1
    assert force != "uniform" or chosen["members"] == ["run.a", "run.b", "run.c"]
    assert force != "uniform_swa" or chosen["members"] == ["run.a.swa2", "run.c.swa4"]
    assert set(log["run_summaries"]) == {"run.a", "run.b", "run.c"} and log["soup"]["chosen"] == s["chosen"]
    assert os.path.exists(out / "tokenizer.json") and not os.path.exists(out / "snapshots.pt")
    ck = torch.load(out / "ckpt.pt")
    assert set(ck) == {"model", "config", "retrieval"}
    assert all(torch.equal(v, v.half().float()) for v in ck["model"].values())   # fp16-representable
    def state(n):                                                         # an ingredient's weights, as the soup builds them
        if ".swa" not in n:
            return quant8.load_state(torch.load(os.path.join(tmp_path, n, "ckpt.pt")))
        return soup.average([x["model"] for x in torch.load(os.path.join(tmp_path, n.split(".swa")[0], "snapshots.pt"))])
    want = soup.average([state(n) for n in sorted(s["chosen_members"], key=s["ingredients"].index)])
    assert all(torch.equal(ck["model"][k], v.half().float()) for k, v in want.items())   # the chosen weights, rounded
    from lens_train import evaluate
    model, cfg, _ = evaluate.load(str(out))                               # the downstream reader takes it as is
    assert cfg == TINY
