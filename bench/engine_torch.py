#!/usr/bin/env python3
"""PyTorch CPU anchor for the engine benchmark.

Times ONE training step (zero_grad + forward + backward + grad-clip + AdamW step)
of a tiny char-level decoder-only transformer ("TinyGPT") on the CPU, so that our
engine's step time can be compared against a well-known reference.

Installs nothing. On Debian 12 the expected setup is:

    apt-get install -y python3-torch libopenblas0-pthread

Human-readable output goes to stderr; the LAST line of stdout is one JSON object:

    {"torchStepMs": <median ms>, "minMs": ..., "meanMs": ..., "threads": 2,
     "torch": "<version>", "blas": "<openblas|mkl|reference|unknown>",
     "params": <param count>, "loss": <last loss>}

If torch cannot be imported it prints {"torchStepMs": null, "reason": "..."} and exits 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
import time

INSTALL_HINT = (
    "install it with `apt-get install -y python3-torch libopenblas0-pthread` "
    "(Debian 12). Without OpenBLAS, Debian's torch falls back to the reference BLAS "
    "and is ~16x slower, which is no fair anchor."
)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="PyTorch CPU anchor: time one TinyGPT training step.")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--d", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--vocab", type=int, default=96)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.d % args.heads != 0:
        p.error(f"--d ({args.d}) must be divisible by --heads ({args.heads})")
    if args.steps < 1:
        p.error("--steps must be >= 1")
    for name in ("batch", "seq", "d", "heads", "layers", "vocab", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1")
    if args.warmup < 0:
        p.error("--warmup must be >= 0")
    return args


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def emit(obj: dict) -> None:
    # The JSON object is always the last line of stdout.
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def system_python_hint() -> str:
    """If another interpreter on this machine (e.g. Debian's /usr/bin/python3) has torch, say so."""
    system_py = "/usr/bin/python3"
    debian_torch = "/usr/lib/python3/dist-packages/torch/__init__.py"
    try:
        same = os.path.realpath(sys.executable) == os.path.realpath(system_py)
    except OSError:
        same = True
    if not same and os.path.exists(debian_torch):
        return (
            f" Note: Debian's torch is installed, but this interpreter ({sys.executable}) does not see it; "
            f"run the script with {system_py} instead."
        )
    return ""


def _loaded_objects() -> list[str]:
    """Paths of the shared objects mapped into this process, in first-mapped order (Linux only)."""
    libs: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 6 and fields[5].startswith("/") and fields[5] not in libs:
                    libs.append(fields[5])
    except OSError:
        pass
    return libs


def _classify_blas_path(path: str) -> str:
    real = os.path.realpath(path).lower()
    base = os.path.basename(real)
    if "mkl" in base:
        return "mkl"
    if "openblas" in real:
        return "openblas"
    if "blis" in real or "atlas" in real:
        return "unknown"
    if base.startswith("libblas.so"):
        # Debian's netlib reference BLAS lives in .../blas/libblas.so.3
        return "reference"
    return "unknown"


def _sgemm_provider(libs: list[str]) -> str | None:
    """The file whose sgemm_ torch's CPU library binds to (dlsym through its dependency tree + dladdr).

    Debian's libtorch links both libblas.so.3 (update-alternatives) and libopenblas.so.0; the one
    earlier in the dependency order wins, so "is OpenBLAS mapped?" alone is not the answer.
    """
    import ctypes

    torch_cpu = next((p for p in libs if os.path.basename(p).startswith("libtorch_cpu")), None)
    if torch_cpu is None:
        return None

    class DlInfo(ctypes.Structure):
        _fields_ = [
            ("dli_fname", ctypes.c_char_p),
            ("dli_fbase", ctypes.c_void_p),
            ("dli_sname", ctypes.c_char_p),
            ("dli_saddr", ctypes.c_void_p),
        ]

    try:
        handle = ctypes.CDLL(torch_cpu)  # already loaded: just a new reference
        addr = ctypes.cast(handle.sgemm_, ctypes.c_void_p).value
        libc = ctypes.CDLL(None)
        dladdr = libc.dladdr
        dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
        dladdr.restype = ctypes.c_int
        info = DlInfo()
        if addr and dladdr(addr, ctypes.byref(info)) and info.dli_fname:
            return info.dli_fname.decode("utf-8", "replace")
    except (OSError, AttributeError, ValueError):
        return None
    return None


def detect_blas(torch) -> tuple[str, str]:
    """Return (kind, detail): kind is one of openblas|mkl|reference|unknown.

    torch.__config__.show() reports BLAS_INFO; Debian builds say "generic", meaning torch calls
    the generic libblas.so.3 whose implementation is chosen by update-alternatives. In that case
    find the library that actually provides sgemm_ in this process.
    """
    config = torch.__config__.show()
    m = re.search(r"BLAS_INFO=([^,\s]*)", config)
    blas_info = m.group(1).lower() if m else ""
    if "mkl" in blas_info:
        return "mkl", f"BLAS_INFO={blas_info}"
    if blas_info in ("open", "openblas"):
        return "openblas", f"BLAS_INFO={blas_info}"

    a = torch.ones(64, 64)
    _ = a @ a  # make sure BLAS is loaded (normally linked eagerly anyway)
    libs = _loaded_objects()
    provider = _sgemm_provider(libs)
    if provider is not None:
        real = os.path.realpath(provider)
        return _classify_blas_path(provider), f"BLAS_INFO={blas_info or '?'}; sgemm_ from {provider} -> {real}"

    # Fallback: guess from what is mapped.
    for kind in ("mkl", "openblas", "reference"):
        for path in libs:
            base = os.path.basename(path)
            if (base.startswith("lib") and ("blas" in base or "mkl" in base)) and _classify_blas_path(path) == kind:
                return kind, f"BLAS_INFO={blas_info or '?'}; mapped {path} (sgemm_ provider not resolved)"
    return "unknown", f"BLAS_INFO={blas_info or '?'}; no BLAS library found among loaded objects"


def main() -> int:
    args = parse_args()

    # BLAS thread pools read their env at load time; pin them to --threads before importing torch
    # (OpenBLAS-pthread otherwise starts one thread per core, independent of torch.set_num_threads).
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    # Debian's torch uses OpenMP for its own kernels and calls OpenBLAS-pthread (a second thread pool)
    # for GEMMs. With libgomp's default active spin-wait the two pools fight over the cores and steps get
    # 2-10x slower and very noisy; passive waiting removes that oversubscription. Override via the env.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except Exception as e:  # ImportError, or a broken install (missing shared libraries)
        reason = f"cannot import torch ({type(e).__name__}: {e})"
        log(f"engine_torch: {reason}; {INSTALL_HINT}{system_python_hint()}")
        emit({"torchStepMs": None, "reason": reason})
        return 0

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # can only be set once, before any inter-op parallel work

    blas, blas_detail = detect_blas(torch)
    log(f"engine_torch: torch {torch.__version__}, BLAS {blas} ({blas_detail})")
    env_desc = " ".join(
        f"{k}={os.environ.get(k, '')}"
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")
    )
    log(f"engine_torch: {env_desc}")
    if blas == "reference":
        log(
            "engine_torch: WARNING: torch is using the reference (netlib) BLAS; timings will be ~16x slower "
            "than with OpenBLAS and are no fair anchor. Fix: apt-get install -y libopenblas0-pthread"
        )

    B, T, C, H, L, V = args.batch, args.seq, args.d, args.heads, args.layers, args.vocab
    D = C // H
    proj_std = 0.02 / math.sqrt(2 * L)

    def param(*shape: int, std: float | None) -> nn.Parameter:
        if std is None:
            return nn.Parameter(torch.ones(*shape))
        return nn.Parameter(torch.randn(*shape) * std)

    class RMSNorm(nn.Module):
        def __init__(self, dim: int, eps: float = 1e-5) -> None:
            super().__init__()
            self.eps = eps
            self.weight = param(dim, std=None)

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm1 = RMSNorm(C)
            self.wqkv = param(C, 3 * C, std=0.02)  # stored [in, out], used as x @ W
            self.wo = param(C, C, std=proj_std)
            self.norm2 = RMSNorm(C)
            self.w1 = param(C, 4 * C, std=0.02)
            self.w2 = param(4 * C, C, std=proj_std)
            # True above the diagonal: key position j > query position i is masked.
            self.register_buffer("causal", torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1))

        def attn(self, x):
            b, t, _ = x.shape
            qkv = torch.matmul(x, self.wqkv)  # [B, T, 3C]
            q, k, v = qkv.split(C, dim=-1)
            q = q.view(b, t, H, D).transpose(1, 2)  # [B, H, T, D]
            k = k.view(b, t, H, D).transpose(1, 2)
            v = v.view(b, t, H, D).transpose(1, 2)
            att = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(D))  # [B, H, T, T]
            att = att.masked_fill(self.causal[:t, :t], -1e9)
            att = F.softmax(att, dim=-1)
            y = torch.matmul(att, v)  # [B, H, T, D]
            y = y.transpose(1, 2).contiguous().view(b, t, C)
            return torch.matmul(y, self.wo)

        def mlp(self, x):
            h = F.gelu(torch.matmul(x, self.w1), approximate="tanh")
            return torch.matmul(h, self.w2)

        def forward(self, x):
            x = x + self.attn(self.norm1(x))
            x = x + self.mlp(self.norm2(x))
            return x

    class TinyGPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = param(V, C, std=0.02)
            self.wpe = param(T, C, std=0.02)
            self.blocks = nn.ModuleList([Block() for _ in range(L)])
            self.norm_f = RMSNorm(C)
            self.lm_head = param(C, V, std=0.02)  # untied, [in, out]

        def forward(self, idx, targets):
            b, t = idx.shape
            x = self.wte[idx] + self.wpe[:t]
            for blk in self.blocks:
                x = blk(x)
            x = self.norm_f(x)
            logits = torch.matmul(x, self.lm_head)  # [B, T, V]
            return F.cross_entropy(logits.view(b * t, V), targets.view(b * t))

    torch.manual_seed(args.seed)
    model = TinyGPT()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    n_params = sum(p.numel() for p in params)

    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": 0.1},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=3e-4,
        betas=(0.9, 0.95),
        eps=1e-8,
    )

    gen = torch.Generator().manual_seed(args.seed)
    inputs = torch.randint(0, V, (B, T), generator=gen)
    targets = torch.randint(0, V, (B, T), generator=gen)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = model(inputs, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    log(
        f"engine_torch: TinyGPT B={B} T={T} C={C} H={H} L={L} V={V}, params={n_params}, "
        f"threads={torch.get_num_threads()}, warmup={args.warmup}, steps={args.steps}"
    )

    loss = float("nan")
    for _ in range(args.warmup):
        loss = step()

    times_ms: list[float] = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        times_ms.append((time.perf_counter() - t0) * 1000.0)

    median = statistics.median(times_ms)
    mn = min(times_ms)
    mean = statistics.fmean(times_ms)
    log(
        f"engine_torch: step median {median:.2f} ms, min {mn:.2f} ms, mean {mean:.2f} ms "
        f"(threads={args.threads}, torch {torch.__version__}, blas {blas}, loss {loss:.4f})"
    )
    emit(
        {
            "torchStepMs": round(median, 3),
            "minMs": round(mn, 3),
            "meanMs": round(mean, 3),
            "threads": args.threads,
            "torch": torch.__version__,
            "blas": blas,
            "params": n_params,
            "loss": loss,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
