"""Infini-attention code encoder: one readable file (nanoGPT style).

Each layer = block-sparse local attention inside a segment (BigBird ITC: window, global and random
blocks) + a compressive memory across the segments of a document (linear or delta rule), mixed by a
learned per-head gate. Three attention paths compute the same function and are tested equal:
  naive  - dense scores with a materialised [T, T] mask (the reference)
  flex   - FlexAttention with a block mask (training on the GPU)
  gather - key blocks gathered per query block (standard ONNX ops, exported)
  masked - the naive mask through F.scaled_dot_product_attention (training on the GPU: faster than flex here)
and two memory paths: segment-parallel (a masked prefix sum as one matmul) and segment-by-segment.
"""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

NEG = -1e30  # finite mask value: a row with no allowed key gives a uniform row, never NaN


@dataclass
class Config:
    vocab: int = 8192
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 4
    n_kv_heads: int = 2
    d_head: int = 64
    d_ff: int = 768
    seg_len: int = 1024
    block: int = 64
    window: int = 3
    n_global: int = 2
    n_random: int = 2
    memory_rule: str = "linear"
    mem_proj: bool = False     # the memory reads and writes through its own q/k/v projections (run 26 on)
    emb_dim: int = 256
    rope_base: float = 10000.0

    @property
    def nb(self): return self.seg_len // self.block

    @property
    def k_slots(self): return self.window + self.n_global + self.n_random

    @property
    def dense_below(self): return self.k_slots * self.block

    @property
    def global_blocks(self):
        first, last = (self.n_global + 1) // 2, self.n_global // 2
        return list(range(first)) + list(range(self.nb - last, self.nb))

    def to_dict(self):
        return dict(asdict(self), dense_below=self.dense_below)


# ---------------------------------------------------------------- sparse layout (shared with TS reference)
def mulberry32(seed):
    """The JS mulberry32 PRNG, bit-exact (uint32 arithmetic)."""
    a = seed & 0xFFFFFFFF

    def imul(x, y): return (x * y) & 0xFFFFFFFF

    def rnd():
        nonlocal a
        a = (a + 0x6D2B79F5) & 0xFFFFFFFF
        t = imul(a ^ (a >> 15), a | 1)
        t = (((t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF) ^ t) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296
    return rnd


def random_blocks(seed, L, H, nb, window, n_global, r):
    """rand_blocks [L, H, nb, r] (int64): r distinct blocks outside the row's window and the global blocks.
    Partial Fisher-Yates over the ascending candidates; global rows (and slots beyond the candidates) = -1."""
    first, last = (n_global + 1) // 2, n_global // 2
    glob = set(range(first)) | set(range(nb - last, nb))
    out = torch.full((L, H, nb, r), -1, dtype=torch.long)
    for l in range(L):
        for h in range(H):
            rnd = mulberry32(seed + 1000003 * l + 7919 * h)
            for i in range(nb):
                if i in glob:
                    continue
                cand = [j for j in range(nb) if abs(j - i) > window // 2 and j not in glob]
                for t in range(min(r, len(cand))):
                    j = t + math.floor(rnd() * (len(cand) - t))
                    cand[t], cand[j] = cand[j], cand[t]
                    out[l, h, i, t] = cand[t]
    return out


def base_slots(cfg):
    """[nb, window+global] constant slots per query block: window blocks, then global blocks; out of range
    or repeated slots are -1; global query rows are all -1 (they attend densely: see global_probs)."""
    nb, w = cfg.nb, cfg.window // 2
    rows = []
    for i in range(nb):
        slots = [i + o for o in range(-w, w + 1)] + cfg.global_blocks
        seen, row = set(), []
        for j in slots:
            ok = 0 <= j < nb and j not in seen and i not in cfg.global_blocks
            row.append(j if ok else -1)
            seen.add(j)
        rows.append(row)
    return torch.tensor(rows, dtype=torch.long)


def key_blocks_for(base, rand_l, valid, cfg):
    """Key blocks per (segment, head, query block) [S, H, nb, K]. Short segments (fewer valid tokens than
    K*b, the dense fallback) take blocks 0..K-1, which then hold every valid key: dense attention."""
    H = rand_l.shape[0]
    kb = torch.cat([base.unsqueeze(0).expand(H, -1, -1), rand_l], dim=-1)  # [H, nb, K]
    is_glob = (base < 0).all(-1, keepdim=True)                              # [nb, 1]
    dense = torch.arange(cfg.k_slots, device=base.device).expand(cfg.nb, -1)  # [nb, K]
    dense = torch.where(is_glob, torch.full_like(dense, -1), dense)
    short = valid.sum(1) < cfg.dense_below                                  # [S]
    return torch.where(short[:, None, None, None], dense, kb.unsqueeze(0))  # [S, H, nb, K]


def block_layout(key_blocks, cfg):
    """Boolean block layout [S, H, nb, nb]; global query rows attend to every block."""
    ar = torch.arange(cfg.nb, device=key_blocks.device)
    lay = (key_blocks.unsqueeze(-1) == ar).any(-2)                          # [S, H, nb, nb]
    lay[:, :, cfg.global_blocks] = True
    return lay


# ---------------------------------------------------------------- attention paths
def masked_softmax(scores, keep):
    """Softmax in float32 at least (float64 stays float64 for the reference checks)."""
    s = scores if scores.dtype == torch.float64 else scores.float()
    neg = torch.tensor(NEG, dtype=s.dtype, device=s.device)               # a scalar: no folded full-size constant
    return torch.softmax(torch.where(keep, s, neg), dim=-1)


def expand_kv(x, H):
    """[S, G, T, D] -> [S, H, T, D]: query head h reads kv head h // (H / G)."""
    S, G, T, D = x.shape
    return x.unsqueeze(2).expand(S, G, H // G, T, D).reshape(S, H, T, D)


def token_mask(layout, valid, cfg):
    """The block layout [S, H, nb, nb] as a token mask [S, H, T, T], padding keys excluded."""
    b = cfg.block
    return layout.repeat_interleave(b, dim=-1).repeat_interleave(b, dim=-2) & valid[:, None, None, :]


def attn_naive(q, k, v, layout, valid, cfg):
    """Reference: materialise the [T, T] mask from the block layout."""
    H = q.shape[1]
    k, v = expand_kv(k, H), expand_kv(v, H)
    keep = token_mask(layout, valid, cfg)
    p = masked_softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), keep)
    return (p.to(v.dtype) @ v), p


def attn_dense(q, k, v, valid):
    """Dense attention over the valid keys of each segment (query graph, encoder_dense, short inputs)."""
    H = q.shape[1]
    k, v = expand_kv(k, H), expand_kv(v, H)
    keep = valid[:, None, None, :]                                          # [S, 1, 1, T]
    p = masked_softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), keep)
    return p.to(v.dtype) @ v


def attn_sdpa(q, k, v, valid):
    """attn_dense through F.scaled_dot_product_attention (torch >= 2.0; else the explicit form)."""
    if not hasattr(F, "scaled_dot_product_attention"):
        return attn_dense(q, k, v, valid)
    H = q.shape[1]
    k, v = expand_kv(k, H), expand_kv(v, H)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=valid[:, None, None, :])  # [S, H, T, D]


def attn_masked(q, k, v, layout, valid, cfg):
    """attn_naive's function through F.scaled_dot_product_attention with the token mask materialised
    (training on the GPU, where the fused kernel on 1,024-token segments beats the sparse FlexAttention one).
    A row with no allowed key is uniform over all keys, as in attn_naive."""
    if not hasattr(F, "scaled_dot_product_attention"):
        return attn_naive(q, k, v, layout, valid, cfg)[0]
    H = q.shape[1]
    keep = token_mask(layout, valid, cfg)
    keep = keep | ~keep.any(-1, keepdim=True)
    k, v = expand_kv(k, H), expand_kv(v, H)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=keep)


def attn_gather(q, k, v, key_blocks, valid, cfg, want_probs=False):
    """Block-sparse attention with gathered key blocks (ONNX-friendly: Gather, MatMul, Where, Softmax)."""
    S, H, T, D = q.shape
    G, b, nb, K = k.shape[1], cfg.block, cfg.nb, key_blocks.shape[-1]
    g0 = (cfg.n_global + 1) // 2
    g1 = cfg.n_global // 2
    rows = key_blocks[:, :, g0:nb - g1]                                      # [S, H, nr, K]
    nr = nb - g0 - g1
    head_kv = torch.arange(H, device=q.device) // (H // G)
    base = (torch.arange(S, device=q.device)[:, None] * G + head_kv[None, :]) * nb  # [S, H]
    idx = (rows.clamp(min=0) + base[:, :, None, None]).reshape(-1)           # [S*H*nr*K]
    kg = k.reshape(S * G * nb, b, D)[idx].reshape(S, H, nr, K * b, D)
    vg = v.reshape(S * G * nb, b, D)[idx].reshape(S, H, nr, K * b, D)
    vb = valid[:, None, :].expand(S, G, T).reshape(S * G * nb, b)[idx].reshape(S, H, nr, K, b)
    keep = (vb & (rows >= 0)[..., None]).reshape(S, H, nr, 1, K * b)
    qr = q[:, :, g0 * b:(nb - g1) * b].reshape(S, H, nr, b, D)
    p = masked_softmax(qr @ kg.transpose(-1, -2) / math.sqrt(D), keep)      # [S, H, nr, b, K*b]
    o_sparse = (p.to(vg.dtype) @ vg).reshape(S, H, nr * b, D)
    # global query rows attend to every valid key
    qg = torch.cat([q[:, :, :g0 * b], q[:, :, (nb - g1) * b:]], dim=2)       # [S, H, g*b, D]
    kf, vf = expand_kv(k, H), expand_kv(v, H)
    pg = masked_softmax(qg @ kf.transpose(-1, -2) / math.sqrt(D), valid[:, None, None, :])  # [S, H, g*b, T]
    og = pg.to(vf.dtype) @ vf
    out = torch.cat([og[:, :, :g0 * b], o_sparse, og[:, :, g0 * b:]], dim=2)  # [S, H, T, D]
    if not want_probs:
        return out, None
    zero = p[:, :, :1] * 0                                                   # computed, so never a folded constant
    probs = torch.cat([zero.expand(-1, -1, g0, -1, -1), p, zero.expand(-1, -1, g1, -1, -1)], dim=2)  # [S,H,nb,b,K*b]
    return out, (probs, pg)


_flex = None


def attn_flex(q, k, v, layout, valid, cfg):
    """FlexAttention; the mask_mod is exact per token, the 128-wide block mask only skips empty tiles."""
    global _flex
    from torch.nn.attention.flex_attention import flex_attention, create_block_mask
    if _flex is None:
        _flex = torch.compile(flex_attention, dynamic=False)
    S, H, T, _ = q.shape
    b = cfg.block

    def mask_mod(bi, h, qi, ki):
        return layout[bi, h, qi // b, ki // b] & valid[bi, ki]
    try:                                                 # from the block layout directly: no T x T evaluation
        from torch.nn.attention.flex_attention import BlockMask
        f = 128 // b
        n = T // 128
        lay = layout.reshape(S, H, n, f, n, f).any(3).any(4)                 # [S, H, n, n] 128-wide tiles
        kv_num = lay.sum(-1).to(torch.int32)
        kv_idx = torch.argsort((~lay).to(torch.int8), dim=-1, stable=True).to(torch.int32)
        bm = BlockMask.from_kv_blocks(kv_num, kv_idx, BLOCK_SIZE=128, mask_mod=mask_mod)
    except Exception:                                    # older/newer API: evaluate the mask_mod per token
        bm = create_block_mask(mask_mod, S, H, T, T, device=q.device, BLOCK_SIZE=128)
    return _flex(q, k, v, block_mask=bm, enable_gqa=True)


# ---------------------------------------------------------------- compressive memory
def sigma(x):
    """ELU + 1, written with Where/Exp so every runtime has it; clamp keeps the unused branch finite."""
    return torch.where(x > 0, x + 1, torch.exp(torch.clamp(x, max=0.0)))


def mem_read(sq, M, z, eps=1e-6):
    """A_mem = σ(q) M / (σ(q) z + eps). sq [S,H,T,D], M [S,G,D,D], z [S,G,D] -> [S,H,T,D]."""
    S, H, T, D = sq.shape
    G = M.shape[1]
    sqg = sq.reshape(S, G, (H // G) * T, D)                                  # heads of one kv group together
    num = sqg @ M                                                            # [S, G, rep*T, D]
    den = sqg @ z.unsqueeze(-1) + eps                                        # [S, G, rep*T, 1]
    return (num / den).reshape(S, H, T, D)


def mem_contrib(sk, v, valid):
    """One segment's linear-rule contribution: σ(k)ᵀv [S,G,D,D] and Σσ(k) [S,G,D], padding excluded."""
    skm = sk * valid[:, None, :, None]
    return skm.transpose(-1, -2) @ v, skm.sum(2)


def mem_parallel(C, zc, seg_doc, mem_in, z_in):
    """Linear rule for all segments at once: memory before segment s = Σ of earlier segments of its doc
    (+ mem_in for doc 0), as one [S,S] masked matmul (exact, no prefix-sum cancellation)."""
    S = C.shape[0]
    ar = torch.arange(S, device=C.device)
    same = seg_doc[:, None] == seg_doc[None, :]
    P = (same & (ar[None, :] < ar[:, None])).to(C.dtype)                     # [S, S]
    doc0 = (seg_doc == 0).to(C.dtype)                                        # [S]
    M = (P @ C.reshape(S, -1)).reshape(C.shape) + doc0[:, None, None, None] * mem_in
    z = (P @ zc.reshape(S, -1)).reshape(zc.shape) + doc0[:, None, None] * z_in
    last = (seg_doc == seg_doc[-1]).to(C.dtype)                              # segments of the last doc
    lastd0 = (seg_doc[-1] == 0).to(C.dtype)
    M_out = (last[:, None, None, None] * C).sum(0) + lastd0 * mem_in
    z_out = (last[:, None, None] * zc).sum(0) + lastd0 * z_in
    return M, z, M_out, z_out, C.sum(0), zc.sum(0)


def mem_sequential(sq, sk, v, valid, seg_doc, mem_in, z_in, rule, eps=1e-6):
    """Segment-by-segment memory (reference for the linear rule; the only path for the delta rule)."""
    S = sq.shape[0]
    reads, M, z = [], None, None
    M_sum, z_sum = torch.zeros_like(mem_in), torch.zeros_like(z_in)
    for s in range(S):
        if s == 0 or seg_doc[s] != seg_doc[s - 1]:
            M, z = (mem_in, z_in) if int(seg_doc[s]) == 0 else (torch.zeros_like(mem_in), torch.zeros_like(z_in))
        reads.append(mem_read(sq[s:s + 1], M[None], z[None], eps))
        C, zc = mem_contrib(sk[s:s + 1], v[s:s + 1], valid[s:s + 1])
        M_sum, z_sum = M_sum + C[0], z_sum + zc[0]
        if rule == "delta":
            km = sk[s] * valid[s][None, :, None]                              # [G, T, D]
            retrieved = (km @ M) / (km @ z.unsqueeze(-1) + eps)              # [G, T, D]
            M = M + km.transpose(-1, -2) @ (v[s] - retrieved)
        else:
            M = M + C[0]
        z = z + zc[0]
    return torch.cat(reads), M, z, M_sum, z_sum


# ---------------------------------------------------------------- layers
def rope_tables(T, D, base, device):
    inv = base ** (-torch.arange(0, D, 2, device=device, dtype=torch.float32) / D)   # [D/2]
    ang = torch.arange(T, device=device, dtype=torch.float32)[:, None] * inv[None]   # [T, D/2]
    return torch.cat([ang.cos(), ang.cos()], -1), torch.cat([ang.sin(), ang.sin()], -1)  # [T, D] each


def rope(x, cos, sin):
    """Rotate-half RoPE: pairs (i, i + D/2)."""
    h = x.shape[-1] // 2
    rot = torch.cat([-x[..., h:], x[..., :h]], dim=-1)
    return (x * cos + rot * sin).to(x.dtype)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        H, G, D = cfg.n_heads, cfg.n_kv_heads, cfg.d_head
        self.wqkv = nn.Linear(cfg.d_model, (H + 2 * G) * D, bias=False)
        self.wo = nn.Linear(H * D, cfg.d_model, bias=False)
        self.beta = nn.Parameter(torch.zeros(H))       # gate logit per head; own lr, no decay
        if cfg.mem_proj:                               # memory keys free of the local attention's (no RoPE either)
            self.wqkv_m = nn.Linear(cfg.d_model, (H + 2 * G) * D, bias=False)

    def heads(self, proj, x):
        """q [S, H, T, D], k and v [S, G, T, D] of x [S, T, d] through proj (wqkv, or the memory's wqkv_m)."""
        S, T, _ = x.shape
        H, G, D = self.cfg.n_heads, self.cfg.n_kv_heads, self.cfg.d_head
        q, k, v = proj(x).split([H * D, G * D, G * D], dim=-1)
        return (q.reshape(S, T, H, D).transpose(1, 2), k.reshape(S, T, G, D).transpose(1, 2),
                v.reshape(S, T, G, D).transpose(1, 2))

    def forward(self, x, ctx, l):
        cfg = self.cfg
        S, T, _ = x.shape
        H, G, D = cfg.n_heads, cfg.n_kv_heads, cfg.d_head
        q, k, v = self.heads(self.wqkv, x)
        cos, sin = ctx["cos"][:T], ctx["sin"][:T]
        qr, kr = rope(q, cos, sin), rope(k, cos, sin)
        valid, mode, extra = ctx["valid"], ctx["attn"], {}
        if mode == "dense":
            a_local = attn_dense(qr, kr, v, valid)
        elif mode == "sdpa":                                                 # same function, fused kernel (training)
            a_local = attn_sdpa(qr, kr, v, valid)
        else:
            kb = ctx["key_blocks"][l]                                        # [S, H, nb, K]
            if mode == "gather":
                a_local, probs = attn_gather(qr, kr, v, kb, valid, cfg, ctx.get("lens", False))
                if probs is not None:
                    extra["probs"], extra["global_probs"] = probs
            elif mode == "flex":
                a_local = attn_flex(qr, kr, v, block_layout(kb, cfg), valid, cfg)
            elif mode == "masked":
                a_local = attn_masked(qr, kr, v, block_layout(kb, cfg), valid, cfg)
            else:
                a_local, _ = attn_naive(qr, kr, v, block_layout(kb, cfg), valid, cfg)
        # memory path in float32 (sums over many segments overflow fp16), position-free σ(q), σ(k)
        mt = torch.float64 if q.dtype == torch.float64 else torch.float32
        if cfg.mem_proj:
            q, k, v = self.heads(self.wqkv_m, x)
        sq, sk, vf, vm = sigma(q.to(mt)), sigma(k.to(mt)), v.to(mt), valid.to(mt)
        mem_in, z_in = ctx["mem_in"][l], ctx["z_in"][l]
        if ctx["memory"] == "query":                                         # every row reads mem_in alone
            M = mem_in.unsqueeze(0).expand(S, -1, -1, -1)
            z = z_in.unsqueeze(0).expand(S, -1, -1)
            a_mem = mem_read(sq, M, z)
            C, zc = mem_contrib(sk, vf, vm)
            M_out, z_out, M_sum, z_sum = mem_in, z_in, C.sum(0), zc.sum(0)
        elif ctx["memory"] == "sequential" or cfg.memory_rule == "delta":
            a_mem, M_out, z_out, M_sum, z_sum = mem_sequential(sq, sk, vf, vm, ctx["seg_doc"], mem_in, z_in,
                                                               cfg.memory_rule)
        else:
            C, zc = mem_contrib(sk, vf, vm)
            M, z, M_out, z_out, M_sum, z_sum = mem_parallel(C, zc, ctx["seg_doc"], mem_in, z_in)
            a_mem = mem_read(sq, M, z)
        if ctx["memory"] == "off":
            a_mem = torch.zeros_like(a_mem)
        g = torch.sigmoid(self.beta.to(mt))[None, :, None, None]             # [1, H, 1, 1]
        a = (g * a_mem + (1 - g) * a_local.to(mt)).to(x.dtype)               # [S, H, T, D]
        out = self.wo(a.transpose(1, 2).reshape(S, T, H * D))
        extra.update(mem_out=M_out, z_out=z_out, mem_sum=M_sum, z_sum=z_sum, sigma_q=sq, sigma_k=sk)
        return out, extra


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model, eps=1e-5)
        self.attn = Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model, eps=1e-5)
        self.ff1 = nn.Linear(cfg.d_model, cfg.d_ff, bias=False)
        self.ff2 = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)
        self.p_drop = 0.0                          # residual dropout, training only (Encoder.set_dropout)

    def forward(self, x, ctx, l):
        a, extra = self.attn(self.ln1(x), ctx, l)
        f = lambda y: F.dropout(y, self.p_drop, True) if self.training and self.p_drop > 0 else y
        x = x + f(a)
        x = x + f(self.ff2(F.gelu(self.ff1(self.ln2(x)), approximate="tanh")))
        return x, extra


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab, cfg.d_model)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.ln_f = nn.LayerNorm(cfg.d_model, eps=1e-5)
        self.proj = nn.Linear(cfg.d_model, cfg.emb_dim, bias=False)          # W_e
        cos, sin = rope_tables(cfg.seg_len, cfg.d_head, cfg.rope_base, "cpu")
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self.register_buffer("base_slots", base_slots(cfg), persistent=False)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, ids, valid, seg_doc=None, rand_blocks=None, mem_in=None, z_in=None,
                attn="gather", memory="parallel", lens=False):
        """ids [S,T] int64, valid [S,T] (bool or 0/1), seg_doc [S], rand_blocks [L,H,nb,r],
        mem_in [L,G,D,D], z_in [L,G,D]. Returns h [S,T,d], emb [S,T,E] and per-layer memory/lens outputs."""
        cfg = self.cfg
        S, T = ids.shape
        L, G, D = cfg.n_layers, cfg.n_kv_heads, cfg.d_head
        valid = valid > 0.5 if valid.dtype != torch.bool else valid
        if seg_doc is None:
            seg_doc = torch.zeros(S, dtype=torch.long, device=ids.device)
        if mem_in is None:
            mem_in = torch.zeros(L, G, D, D, device=ids.device)
            z_in = torch.zeros(L, G, D, device=ids.device)
        mt = torch.float64 if self.tok.weight.dtype == torch.float64 else torch.float32
        ctx = dict(valid=valid, seg_doc=seg_doc, mem_in=mem_in.to(mt), z_in=z_in.to(mt), attn=attn,
                   memory=memory, lens=lens, cos=self.cos, sin=self.sin)
        if attn not in ("dense", "sdpa"):
            ctx["key_blocks"] = [key_blocks_for(self.base_slots, rand_blocks[l], valid, cfg) for l in range(L)]
        x = self.tok(ids)                                                    # [S, T, d]
        extras = []
        for l, blk in enumerate(self.blocks):
            x, extra = blk(x, ctx, l)
            extras.append(extra)
        h = self.ln_f(x)
        out = {"h": h, "emb": self.proj(h)}
        for name in ("mem_out", "z_out", "mem_sum", "z_sum"):
            out[name] = torch.stack([e[name] for e in extras])               # [L, ...]
        if lens:
            out["key_blocks"] = torch.stack([kb[0] for kb in ctx["key_blocks"]])  # [L, H, nb, K]
            for name in ("probs", "global_probs", "sigma_q", "sigma_k"):
                out[name] = torch.stack([e[name][0] for e in extras])
        return out

    def set_dropout(self, p):
        """Dropout on each block's attention and feed-forward outputs while training; not part of the exported
        graphs (export runs in eval mode, where it is the identity)."""
        for b in self.blocks:
            b.p_drop = float(p)
        return self

    def mlm_logits(self, h):
        return h @ self.tok.weight.t()                                       # tied output matrix

    def gates(self):
        return torch.stack([torch.sigmoid(b.attn.beta.detach().float()) for b in self.blocks])  # [L, H]

    def param_groups(self, lr, beta_lr, wd):
        """AdamW groups: matrices decay; norms, biases and the memory's own projections none (decay pulls the
        memory keys towards σ ≈ 1 everywhere, where one key cannot stand out); β its own lr and no decay."""
        beta = [b.attn.beta for b in self.blocks]
        ids_beta = {id(p) for p in beta}
        no_decay = lambda n, p: p.dim() < 2 or ".attn.wqkv_m." in n
        decay = [p for n, p in self.named_parameters() if not no_decay(n, p) and id(p) not in ids_beta]
        rest = [p for n, p in self.named_parameters() if no_decay(n, p) and id(p) not in ids_beta]
        return [dict(params=decay, lr=lr, weight_decay=wd), dict(params=rest, lr=lr, weight_decay=0.0),
                dict(params=beta, lr=beta_lr, weight_decay=0.0, is_beta=True)]


def grow_depth(state, n_old, n_new):
    """A state dict of n_old layers -> one of n_new (a multiple of n_old) that computes the same function: each
    trained layer is followed by copies of itself whose two residual outputs (attention wo, feed-forward ff2)
    are zero, so every copy starts as the identity and learns from there (depth growth by stacking, with the
    new layers' outputs zero-initialised)."""
    if n_new % n_old:
        raise ValueError(f"cannot grow {n_old} layers to {n_new}")
    k = n_new // n_old
    out = {n: v for n, v in state.items() if not n.startswith("blocks.")}
    for n, v in state.items():
        if not n.startswith("blocks."):
            continue
        _, l, rest = n.split(".", 2)
        for j in range(k):
            zero = j > 0 and rest in ("attn.wo.weight", "ff2.weight")
            out[f"blocks.{int(l) * k + j}.{rest}"] = torch.zeros_like(v) if zero else v.clone()
    return out
