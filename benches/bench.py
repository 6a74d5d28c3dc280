"""Speed of linflow.expm against scipy.linalg.expm (and torch / jax when importable).

Every workload is timed for each library in one run on one machine, after checking that
linflow's answer agrees with scipy's (max over matrices of max|X - R| / max|R|, float64 within
1e-10, float32 within 1e-4); a workload that disagrees gets no speed ratio and the script exits
non-zero. The ratio is scipy time / linflow time (higher = linflow faster) and is compared with
a target per workload.

Timing: timeit-style best of several repeats, each repeat running enough calls to last at least
0.2 s; the scipy batch calls (a Python loop over the stack, ~1 s) run once. Where both libraries
are repeated, their repeats alternate, each timed repeat after an untimed one of the same library
(`bench_action.timed`): a slow phase of the shared VM then falls on both, and neither starts while
the other's idle OpenBLAS workers still busy-wait (about 0.1 s after a numpy call). Also reported: one
numpy `a @ a` on the 1024x1024 matrix (to read expm times as "products x one gemm"), and the
peak memory (ru_maxrss growth, in a fresh subprocess) of linflow on the 100000 x 3x3 float64
batch against the input + output size.

torch.linalg.matrix_exp and jax.scipy.linalg.expm are timed only if already importable (times
only; their inputs are converted before timing).

The table is printed and written to benches/RESULTS.md (or --out PATH).

Run:  python benches/bench.py            (about a minute on 2 cores)
      python benches/bench.py --quick    (fewer and shorter repeats)
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import timeit
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import linflow
import numpy as np
import scipy
import scipy.linalg
from bench_action import timed

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "RESULTS.md"
SEED = 20240601
TOLERANCE = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}
THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS")


@dataclass(frozen=True)
class Settings:
    min_repeat_time: float  # seconds each repeat of a fast call must last
    repeats: int  # repeats of a fast call (best is kept)
    batch_repeats: int  # repeats of a linflow / torch / jax batch or dense call


FULL = Settings(min_repeat_time=0.2, repeats=5, batch_repeats=5)
QUICK = Settings(min_repeat_time=0.05, repeats=3, batch_repeats=2)


@dataclass(frozen=True)
class Workload:
    name: str
    make: Callable[[np.random.Generator], np.ndarray]
    target: float  # wanted scipy time / linflow time
    scipy_once: bool  # scipy call is slow: time a single run


@dataclass
class Row:
    workload: Workload
    times: dict = field(default_factory=dict)  # library -> seconds per call
    max_rel_diff: float = float("nan")
    tolerance: float = float("nan")
    report: tuple | None = None  # linflow's (order, squarings, products) for one dense matrix

    @property
    def agrees(self) -> bool:
        return self.max_rel_diff <= self.tolerance

    @property
    def ratio(self) -> float:
        return self.times["scipy"] / self.times["linflow"]

    @property
    def met(self) -> bool:
        return self.agrees and self.ratio >= self.workload.target


def normal(shape, scale=1.0, dtype=np.float64):
    """Maker of a random-normal array (entries scaled by `scale`) of the given shape."""
    return lambda rng: (rng.standard_normal(shape) * scale).astype(dtype)


WORKLOADS = (
    Workload("one 3x3 call, float64", normal((3, 3)), 10.0, False),
    Workload("one 8x8 call, float64", normal((8, 8)), 8.0, False),
    Workload("batch 100000 x 3x3, float64", normal((100_000, 3, 3)), 60.0, True),
    Workload("batch 100000 x 3x3, float32", normal((100_000, 3, 3), dtype=np.float32), 80.0, True),
    Workload("batch 10000 x 8x8, float64", normal((10_000, 8, 8)), 15.0, True),
    Workload("dense 256x256, float64 (N/16)", normal((256, 256), 1 / 16), 3.5, False),
    Workload("dense 1024x1024, float64 (N/32)", normal((1024, 1024), 1 / 32), 1.6, False),
)

MEMORY_CHILD = """
import json, resource
import numpy as np
import linflow
def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rng = np.random.default_rng(1)
linflow.expm(rng.standard_normal((16, 3, 3)))  # one-time initialisation (thread pool)
base = peak_kib()
a = np.empty((100_000, 3, 3))
rng.standard_normal(out=a)  # filled in place: no temporary
with_input = peak_kib()
e = linflow.expm(a)
after = peak_kib()
print(json.dumps({"base_kib": base, "input_kib": with_input, "after_kib": after,
                  "input_bytes": a.nbytes, "output_bytes": e.nbytes}))
"""
# A fresh process inherits ru_maxrss from the process that spawns it (vfork shares the
# parent's memory map), so the child is started from a small launcher, not from this one.
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"


# ---------------------------------------------------------------- timing


def best_time(fn, settings: Settings, repeats: int) -> float:
    """Best seconds per call of fn(): calls per repeat calibrated to last min_repeat_time."""
    timer = timeit.Timer(fn)
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= settings.min_repeat_time:
            break
        grow = settings.min_repeat_time / max(elapsed, 1e-9) * 1.2
        number = max(number * 2, int(number * grow))
    runs = timer.repeat(repeat=repeats, number=number)
    return min(runs) / number


def single_time(fn):
    """Seconds of one call of fn() and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# ---------------------------------------------------------------- optional libraries


def optional_libraries() -> dict:
    """name -> (prepare(array) -> input, run(input) -> None) for torch / jax if importable."""
    libs = {}
    try:
        import torch

        libs["torch"] = (torch.from_numpy, torch.linalg.matrix_exp)
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp
        import jax.scipy.linalg

        jax.config.update("jax_enable_x64", True)
        libs["jax"] = (jnp.asarray, lambda x: jax.scipy.linalg.expm(x).block_until_ready())
    except ImportError:
        pass
    return libs


# ---------------------------------------------------------------- checking


def max_rel_diff(x: np.ndarray, ref: np.ndarray) -> float:
    """Largest, over the matrices of a stack, of max|X - R| / max|R| (computed in float64)."""
    x = np.asarray(x, dtype=np.float64).reshape(-1, *x.shape[-2:])
    ref = np.asarray(ref, dtype=np.float64).reshape(-1, *ref.shape[-2:])
    num = np.abs(x - ref).max(axis=(-2, -1))
    den = np.abs(ref).max(axis=(-2, -1))
    return float((num / den).max())


# ---------------------------------------------------------------- workloads


def run_workload(w: Workload, settings: Settings, others: dict, rng) -> Row:
    """Check linflow against scipy on one workload, then time every library on it."""
    a = w.make(rng)
    row = Row(w, tolerance=TOLERANCE[a.dtype])
    mine = linflow.expm(a)  # also warms up the thread pool
    fast = settings.repeats if a.ndim == 2 and a.shape[-1] <= 8 else settings.batch_repeats
    if w.scipy_once:
        row.times["scipy"], ref = single_time(lambda: scipy.linalg.expm(a))
        row.times["linflow"] = best_time(lambda: linflow.expm(a), settings, fast)
    else:
        ref = scipy.linalg.expm(a)
        fns = {"scipy": lambda: scipy.linalg.expm(a), "linflow": lambda: linflow.expm(a)}
        row.times.update(timed(fns, fast, settings.min_repeat_time))
    row.max_rel_diff = max_rel_diff(mine, ref)
    if a.ndim == 2 and a.dtype == np.float64:
        row.report = linflow._core._expm_report(a)
    for name, (prepare, run) in others.items():
        x = prepare(a)
        run(x)  # warm-up (jax compiles here)
        row.times[name] = best_time(lambda: run(x), settings, fast)
    return row


def gemm_time(settings: Settings, rng) -> float:
    """Best seconds of one numpy `a @ a` on a 1024x1024 float64 matrix."""
    a = rng.standard_normal((1024, 1024)) / 32
    return best_time(lambda: a @ a, settings, settings.batch_repeats)


def memory_usage() -> dict:
    """ru_maxrss growth of linflow on the 100000 x 3x3 float64 batch, in a fresh process."""
    cmd = [sys.executable, "-c", LAUNCHER, sys.executable, "-c", MEMORY_CHILD]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


# ---------------------------------------------------------------- machine facts


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def numpy_blas() -> str:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '?')}"
    except Exception:  # older numpy, or a layout change: not worth failing over
        return "unknown"


def linflow_blas() -> str:
    """The BLAS shared library the linflow extension loads (from ldd), if easy to tell."""
    try:
        out = subprocess.run(
            ["ldd", linflow._core.__file__], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError, AttributeError):
        return "unknown"
    hits = [ln.strip() for ln in out.splitlines() if "blas" in ln.lower() or "lapack" in ln]
    return "; ".join(hits) or "none found by ldd"


def machine_facts() -> dict:
    env = {k: os.environ[k] for k in THREAD_ENV if k in os.environ}
    return {
        "uname -m": platform.machine(),
        "nproc": str(os.cpu_count()),
        "CPU": cpu_model(),
        "Python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "linflow": linflow.__version__,
        "numpy BLAS": numpy_blas(),
        "linflow BLAS (ldd)": linflow_blas(),
        "thread variables": ", ".join(f"{k}={v}" for k, v in env.items()) or "none set",
    }


# ---------------------------------------------------------------- output


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def table(rows: list, libraries: list) -> list:
    """Markdown table lines: times, ratio scipy / linflow, target, met, agreement."""
    head = ["workload", *libraries, "scipy / linflow", "target", "met", "max rel diff"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.agrees else "n/a (MISMATCH)"
        met = ("yes" if r.met else "**no**") if r.agrees else "**no**"
        cells = [
            r.workload.name,
            *(fmt_time(r.times[lib]) for lib in libraries),
            ratio,
            f">= {r.workload.target:g}x",
            met,
            f"{r.max_rel_diff:.1e} (tol {r.tolerance:g})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


#: The LU solve of the Pade step in units of one product: getrf (2n^3/3 flops) and getrs
#: with n right-hand sides (2n^3) against 2n^3 for a product.
SOLVE_PRODUCTS = 4 / 3


def gemm_lines(rows: list, gemm: float) -> list:
    dense = next(r for r in rows if r.workload.name.startswith("dense 1024"))
    lines = [f"One numpy `a @ a` (1024x1024 float64): {fmt_time(gemm)}.", ""]
    for lib, t in dense.times.items():
        lines.append(f"- {lib} expm 1024x1024: {fmt_time(t)} = {t / gemm:.1f} x one gemm")
    if dense.report is not None:
        order, squarings, products = dense.report
        floor = (products + SOLVE_PRODUCTS) * gemm
        lines += [
            "",
            f"linflow's plan for this matrix: Pade order {order}, {squarings} squarings, "
            f"{products} matrix products (squarings included) and one LU solve "
            f"(~{SOLVE_PRODUCTS:.2f} products): floor {products + SOLVE_PRODUCTS:.2f} x one gemm "
            f"= {fmt_time(floor)}; linflow takes {dense.times['linflow'] / floor:.2f} x that floor "
            "(target <= 1.3).",
        ]
    return lines


def memory_lines(mem: dict) -> list:
    mib = 1024 * 1024
    input_growth = (mem["input_kib"] - mem["base_kib"]) * 1024
    call_growth = (mem["after_kib"] - mem["input_kib"]) * 1024
    total = input_growth + call_growth
    io = mem["input_bytes"] + mem["output_bytes"]
    return [
        "linflow.expm on a (100000, 3, 3) float64 batch in a fresh subprocess; growth of "
        "ru_maxrss from after imports and a small warm-up call:",
        "",
        f"- input {mem['input_bytes'] / mib:.2f} MiB + output {mem['output_bytes'] / mib:.2f} MiB"
        f" = {io / mib:.2f} MiB",
        f"- growth while creating the input: {input_growth / mib:.2f} MiB",
        f"- growth during linflow.expm: {call_growth / mib:.2f} MiB"
        f" = {call_growth / mem['output_bytes']:.2f} x output",
        f"- peak growth in all: {total / mib:.2f} MiB = {total / io:.2f} x (input + output)",
    ]


def command_line() -> str:
    env = " ".join(f"{k}={os.environ[k]}" for k in THREAD_ENV if k in os.environ)
    cmd = " ".join(["python", "benches/bench.py", *sys.argv[1:]])
    return f"{env} {cmd}".strip()


def report(rows, libraries, gemm, mem, facts, settings, elapsed) -> str:
    met = sum(r.met for r in rows)
    lines = [
        "# linflow.expm vs scipy.linalg.expm: timings",
        "",
        "Generated by `benches/bench.py`; ratio = scipy time / linflow time (higher = linflow "
        "faster). Times are per call (per whole batch for batch workloads).",
        "",
        f"Command: `{command_line()}`",
        "",
        f"Date (UTC): {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M:%S}",
        "",
        "## Machine",
        "",
        *(f"- {k}: {v}" for k, v in facts.items()),
        "",
        "## Results",
        "",
        *table(rows, libraries),
        "",
        f"Targets met: {met} of {len(rows)}.",
        "",
        "## 1024x1024 against one gemm",
        "",
        *gemm_lines(rows, gemm),
        "",
        "## Peak memory",
        "",
        *memory_lines(mem),
        "",
        "## Method",
        "",
        f"- Best of {settings.repeats} repeats (single calls) or {settings.batch_repeats} "
        f"(linflow batches and dense matrices), each repeat running enough calls to last "
        f">= {settings.min_repeat_time:g} s; the scipy batch calls run once (scipy.linalg.expm "
        "loops over the stack in Python). Where both libraries are repeated, their repeats "
        "alternate, each timed repeat after an untimed one of the same library "
        "(`bench_action.timed`).",
        "- Inputs: numpy default_rng, standard normal entries (scaled as named), fixed seed.",
        "- Agreement: max over the matrices of max|linflow - scipy| / max|scipy|; a workload "
        "outside tolerance gets no ratio.",
        f"- Whole run: {elapsed:.0f} s.",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer and shorter repeats")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown output file")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    start = time.perf_counter()
    rng = np.random.default_rng(SEED)
    others = optional_libraries()
    libraries = ["scipy", "linflow", *others]
    rows = []
    for w in WORKLOADS:
        rows.append(run_workload(w, settings, others, rng))
        print(table(rows[-1:], libraries)[-1], flush=True)
    gemm = gemm_time(settings, rng)
    mem = memory_usage()
    text = report(rows, libraries, gemm, mem, machine_facts(), settings,
                  time.perf_counter() - start)
    # ---- flows (issue 4): trajectories against scipy, from benches/bench_flow.py ----
    import bench_flow

    text += "\n" + bench_flow.section(quick=args.quick)
    # ---- end of the flows block ----
    # --- issue 5: expm_frechet / expm_cond / expm_multiply (benches/bench_action.py) ---
    import bench_action

    text += "\n" + bench_action.markdown_section(quick=args.quick)
    # --- end issue 5 ---
    print()
    print(text)
    args.out.write_text(text)
    print(f"written to {args.out}")
    return 0 if all(r.agrees for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
