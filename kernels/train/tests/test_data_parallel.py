"""Data-parallel masked-token pretraining (train.pretrain under torch.distributed), two processes on the CPU
(gloo): every rank ends with the same weights, the weights moved, all ranks ran the same number of steps
although only rank 0's clock decides, and average_grads is the mean of the ranks' gradients."""
import os
import socket
import tempfile

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lens_train.model import Config, Encoder
from lens_train import train

SMALL = Config(vocab=512, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, d_head=16, d_ff=96,
               seg_len=256, block=32)
TC = dict(nseg=4, seqs=2, mask_p=0.15, splice_p=0.5, mem_from=2, lr=1e-3, beta_lr=1e-2, wd=0.1, warmup=2,
          est_steps=10, seed=5)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank, ws, port, out, max_steps):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=ws)
    torch.manual_seed(0)                                     # the same initial weights on every rank
    model = Encoder(SMALL)
    init = [p.detach().clone() for p in model.parameters()]
    stream = np.random.default_rng(1).integers(4, SMALL.vocab, size=20_000).astype(np.int32)
    # rank 0's clock: only it may stop the loop early; rank 1 alone would run on for the whole step budget
    t_end = 1e18 if rank else 0.0
    tc = dict(TC, max_steps=max_steps)
    res = train.pretrain(model, SMALL, tc, stream, [], t_end)
    assert res["steps"] == 0, res                           # rank 0 stopped at once, and so did rank 1
    res = train.pretrain(model, SMALL, tc, stream, [], 1e18)
    moved = max(float((p - q).abs().max()) for p, q in zip(model.parameters(), init))
    # average_grads: each rank puts rank+1 into every gradient; the mean is 1.5 everywhere
    for p in model.parameters():
        p.grad = torch.full_like(p, rank + 1.0)
    train.average_grads(list(model.parameters()), ws)
    mean_ok = all(bool(torch.all(p.grad == 1.5)) for p in model.parameters())
    torch.save(dict(state=model.state_dict(), steps=res["steps"], tokens=res["tokens"], moved=moved,
                    mean_ok=mean_ok), os.path.join(out, f"rank{rank}.pt"))
    dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not built")
def test_two_ranks_stay_identical():
    with tempfile.TemporaryDirectory() as out:
        mp.spawn(worker, args=(2, free_port(), out, 3), nprocs=2, join=True)
        r = [torch.load(os.path.join(out, f"rank{i}.pt")) for i in range(2)]
    assert r[0]["steps"] == r[1]["steps"] == 3
    assert r[0]["tokens"] == 3 * 2 * TC["seqs"] * TC["nseg"] * SMALL.seg_len   # both ranks' tokens counted
    assert r[0]["moved"] > 1e-4
    assert r[0]["mean_ok"] and r[1]["mean_ok"]
    for k, v in r[0]["state"].items():
        assert torch.equal(v, r[1]["state"][k]), k
