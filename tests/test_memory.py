"""Memory: repeated calls leave the process's resident memory flat, and a batched call holds at
most its input, its output and small per-thread workspaces.

Each measurement runs in a fresh interpreter (Linux: ``/proc/self/status``), so that nothing the
rest of the suite allocated counts. Two tables drive the tests: REPEATS (a call repeated many
times, with a bound on the RSS growth) and BATCHES (one batched call, with a bound on its peak).
A new public function plugs in as rows of both (see the commented rows); ``tests/README.md``
records the measured numbers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import pytest

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")

MB = 1 << 20


@dataclass(frozen=True)
class Repeat:
    """``statement`` run ``calls`` times after ``setup``, once warmed up: the RSS may grow by at
    most ``bound`` bytes. A leak of ``bound / calls`` bytes per call or more fails."""

    name: str
    setup: str
    statement: str
    calls: int
    bound: int


REPEATS = [
    Repeat("expm 2x2 float64", "a = np.array([[0.1, 0.2], [-0.3, 0.4]])", "linflow.expm(a)", 1_000_000, 4 * MB),
    Repeat("expm 3x3 float32 list", "a = [[0.1, 0.2, 0.0], [0.3, 0.4, 0.1], [0.0, 0.5, 0.2]]", "linflow.expm(np.float32(1) * np.array(a, np.float32))", 200_000, 4 * MB),
    Repeat("expm stack 16x4x4 complex128", "a = (rng.standard_normal((16, 4, 4)) + 1j).astype(np.complex128)", "linflow.expm(a)", 50_000, 4 * MB),
    Repeat(
        "expm NaN -> ValueError",
        "a = np.array([[np.nan, 0.0], [0.0, 1.0]])",
        "try:\n    linflow.expm(a)\nexcept ValueError:\n    pass",
        200_000,
        4 * MB,
    ),
    Repeat(
        "expm non-square -> LinAlgError",
        "a = np.ones((2, 3))",
        "try:\n    linflow.expm(a)\nexcept np.linalg.LinAlgError:\n    pass",
        200_000,
        4 * MB,
    ),
    # The BLAS and LAPACK path with the GIL released: a per-thread workspace of 7 n^2 numbers,
    # kept between calls, and an 80 KB result per call.
    Repeat("expm 100x100 float64", "a = rng.standard_normal((100, 100)) / 12", "linflow.expm(a)", 1000, 16 * MB),
    Repeat("expm 64x64 complex64, Fortran order", "a = np.asfortranarray((rng.standard_normal((64, 64)) / 8).astype(np.complex64))", "linflow.expm(a)", 1000, 16 * MB),
    # Flows (issue 4): the scalar kernel on a uniform grid, an uneven grid on the BLAS path, and
    # the error path of a mismatched state.
    Repeat("trajectory 4x4, 20 times", "a = rng.standard_normal((4, 4)) / 4; x0 = np.ones(4); t = np.linspace(0, 1, 20)", "linflow.trajectory(a, x0, t)", 100_000, 4 * MB),
    Repeat("trajectory 100x100, 4 uneven times", "a = rng.standard_normal((100, 100)) / 12; x0 = np.ones((3, 100)); t = [0.0, 0.3, 1.1, -0.5]", "linflow.trajectory(a, x0, t)", 300, 16 * MB),
    Repeat(
        "trajectory mismatched x0 -> ValueError",
        "a = np.eye(3); x0 = np.ones(4); t = [0.0, 1.0]",
        "try:\n    linflow.trajectory(a, x0, t)\nexcept ValueError:\n    pass",
        100_000,
        4 * MB,
    ),
    # Action and Frechet derivative (issue 5): dense small, CSR large with a grid, and both sizes
    # of expm_frechet.
    Repeat("expm_multiply 4x4 dense", "a = rng.standard_normal((4, 4)) / 4; b = np.ones(4)", "linflow.expm_multiply(a, b)", 50_000, 4 * MB),
    Repeat(
        "expm_multiply CSR 2000, grid of 5",
        "import scipy.sparse; a = scipy.sparse.diags([1.0, -2.0, 1.0], [-1, 0, 1], shape=(2000, 2000), format='csr') * 50; b = np.ones((2000, 2))",
        "linflow.expm_multiply(a, b, start=0, stop=1, num=5)",
        300,
        16 * MB,
    ),
    Repeat("expm_frechet 3x3", "a = rng.standard_normal((3, 3)); e = rng.standard_normal((3, 3))", "linflow.expm_frechet(a, e)", 50_000, 4 * MB),
    Repeat("expm_frechet 60x60", "a = rng.standard_normal((60, 60)) / 8; e = rng.standard_normal((60, 60))", "linflow.expm_frechet(a, e)", 500, 16 * MB),
]

PRELUDE = """
import gc, json, os, sys
import numpy as np
import linflow

rng = np.random.default_rng(0)


def status(key):
    # Resident memory (VmRSS) or its peak (VmHWM) in bytes.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def reset_peak():
    # Linux 4.0+: writing 5 to clear_refs resets VmHWM to the current RSS.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
"""


def run_script(body: str) -> dict[str, float]:
    code = PRELUDE + textwrap.dedent(body)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def repeat_script(row: Repeat) -> str:
    body = textwrap.indent(row.statement, " " * 8)
    return f"""
{row.setup}


def run(count):
    for _ in range(count):
{body}


run(max(1000, {row.calls} // 20))
gc.collect()
before = status("VmRSS")
run({row.calls})
gc.collect()
after = status("VmRSS")
print(json.dumps({{"before": before, "after": after}}))
"""


@pytest.mark.parametrize("row", REPEATS, ids=lambda r: r.name)
def test_rss_flat_over_repeated_calls(row: Repeat) -> None:
    result = run_script(repeat_script(row))
    growth = result["after"] - result["before"]
    assert growth <= row.bound, f"RSS grew by {growth / MB:.2f} MB over {row.calls} calls"


@dataclass(frozen=True)
class Batch:
    """One call on a stack built by ``setup`` as ``x``: its peak memory may exceed the memory
    before the call by at most the output, one workspace of ``workspace`` bytes per thread, and
    ``slack`` (allocator and thread-stack pages). With ``copies``, the input is copied once too
    (a layout that no view can reshape)."""

    name: str
    setup: str
    workspace: int
    slack: int = 4 * MB
    copies: bool = False
    # The batched call on ``x`` (the input whose size ``copies`` adds), and a warm-up on a slice.
    call: str = "linflow.expm(x)"
    warm: str = "linflow.expm(x[..., :8, :, :] if x.ndim == 3 else x[:, :8])"


def general_workspace(n: int, itemsize: int) -> int:
    """The general path's `Expm` workspace: A, U, V, a product buffer and four powers (8 n^2
    numbers), the pivots and row vectors (small)."""
    return 8 * n * n * itemsize + 3 * 8 * n


BATCHES = [
    # Fixed-size kernels on the stack: no workspace at all.
    Batch("300000 x 3x3 float64", "x = rng.standard_normal((300_000, 3, 3))", 0),
    Batch("100000 x 8x8 float32", "x = rng.standard_normal((100_000, 8, 8)).astype(np.float32) / 4", 0),
    Batch("4000 x 20x20 complex128", "x = (rng.standard_normal((4000, 20, 20)) / 5).astype(np.complex128)", general_workspace(20, 16)),
    Batch("64 x 128x128 float64", "x = rng.standard_normal((64, 128, 128)) / 12", general_workspace(128, 8)),
    Batch(
        "(2, 30000, 4, 4) float64, Fortran order",
        "x = np.asfortranarray(rng.standard_normal((2, 30_000, 4, 4)))",
        0,
        copies=True,
    ),
    # Many time steps of one system: each worker scales A into its own workspace (no stack of
    # the scaled matrices).
    Batch(
        "propagator 8x8 of 100000 steps",
        "a = rng.standard_normal((8, 8)) / 4; x = np.linspace(-1, 1, 100_000)",
        general_workspace(8, 8) + 8 * 8 * 8,
        call="linflow.propagator(a, x)",
        warm="linflow.propagator(a, x[:64])",
    ),
    # Many initial states on a uniform grid (direct anchors: a copy of the start states).
    Batch(
        "trajectory of 10000 states 8x8, 50 times",
        "a = rng.standard_normal((8, 8)) / 4; x = rng.standard_normal((10_000, 8)); t = np.linspace(0, 2, 50)",
        general_workspace(8, 8),
        copies=True,
        call="linflow.trajectory(a, x, t)",
        warm="linflow.trajectory(a, x[:64], t)",
    ),
]


def batch_script(row: Batch) -> str:
    return f"""
{row.setup}
threads = int(os.environ.get("RAYON_NUM_THREADS") or os.cpu_count())
# Warm-up on a slice of the same sizes: rayon's threads, OpenBLAS's buffers, the code pages.
{row.warm}
gc.collect()
exact = reset_peak()
before = status("VmRSS") if exact else status("VmHWM")
out = {row.call}
peak = status("VmHWM")
print(json.dumps({{"growth": peak - before, "input": x.nbytes, "output": out.nbytes, "threads": threads, "exact": exact}}))
"""


@pytest.mark.parametrize("row", BATCHES, ids=lambda r: r.name)
def test_batch_holds_output_and_small_workspaces(row: Batch) -> None:
    result = run_script(batch_script(row))
    bound = result["output"] + result["threads"] * row.workspace + row.slack
    if row.copies:
        bound += result["input"]
    assert result["growth"] <= bound, (
        f"peak grew by {result['growth'] / MB:.2f} MB; output {result['output'] / MB:.2f} MB, "
        f"input {result['input'] / MB:.2f} MB, bound {bound / MB:.2f} MB"
    )
