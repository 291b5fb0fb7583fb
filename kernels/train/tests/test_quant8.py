"""quant8.fake_int8: per-row symmetric int8 and back; each row's largest magnitude is exact, every value is
within half a step of its row's scale, the codes stay in [-127, 127], and a zero row stays zero."""
import os

import torch

from lens_train import quant8


def test_fake_int8_per_row():
    torch.manual_seed(0)
    w = torch.randn(5, 64) * torch.tensor([[1.0], [1e-3], [30.0], [0.0], [2.0]])
    deq, q, s = quant8.fake_int8(w)
    assert q.dtype == torch.int8 and int(q.abs().max()) == 127 and s.shape == (5,)
    assert torch.all((deq - w).abs() <= s[:, None] / 2 + 1e-7 * w.abs())
    peak = w.abs().argmax(dim=1)
    for r in (0, 1, 2, 4):                                   # the row's peak maps to ±127 and back exactly
        assert abs(float(deq[r, peak[r]] - w[r, peak[r]])) <= 1e-6 * abs(float(w[r, peak[r]]))
    assert torch.all(deq[3] == 0) and torch.all(q[3] == 0)
    assert torch.allclose(s[2] / s[0], w[2].abs().max() / w[0].abs().max())
