"""Threads: the GIL is released while linflow computes, concurrent calls give the serial results,
and results are bit-identical across runs and thread counts (rayon and OpenBLAS, any sizes).

WORKLOADS is the table the tests run: one row per (function, input) pair, with inputs built once
from fixed seeds. A new public function plugs in as more rows (see the commented ones); the
GIL-release test takes its long call from LONG_CALLS the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import linflow


@dataclass(frozen=True)
class Workload:
    """``call()`` runs one public function on inputs fixed at construction."""

    name: str
    call: Callable[[], Any]


def _matrix(seed: int, shape: tuple[int, ...], dtype: Any, norm: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    if np.issubdtype(dtype, np.complexfloating):
        a = a + 1j * rng.standard_normal(shape)
    n = shape[-1]
    return (a * (norm / n)).astype(dtype)


def _reducible_overflow() -> np.ndarray:
    a = np.kron(np.eye(6), [[0.0, 1.0], [-1.0, 0.0]])
    a[0, 0] = 3000.0
    return a


def _expm(a: np.ndarray) -> Callable[[], Any]:
    return lambda: linflow.expm(a)


UNEVEN = np.array([0.0, 0.3, 1.1, -0.5, 2.0, 0.05, 0.7, 1.3])


def _trajectory(seed: int, n: int, dtype: Any, batch: tuple[int, ...], t: np.ndarray) -> Callable[[], Any]:
    a = _matrix(seed, (n, n), dtype)
    x0 = _matrix(seed + 100, (*batch, n), dtype, float(n))
    return lambda: linflow.trajectory(a, x0, t)


def _laplacian(n: int, fmt: str) -> Any:
    import scipy.sparse

    return scipy.sparse.diags([1.0, -2.0, 1.0], [-1, 0, 1], shape=(n, n), format=fmt) * 100.0


def _action(a: Any, b_shape: tuple[int, ...], grid: tuple[float, float, int] | None) -> Callable[[], Any]:
    b = _matrix(23, b_shape, np.float64, float(b_shape[-1]))
    if grid is None:
        return lambda: linflow.expm_multiply(a, b)
    start, stop, num = grid
    return lambda: linflow.expm_multiply(a, b, start=start, stop=stop, num=num)


def workloads() -> list[Workload]:
    """Mixed sizes, stacks and dtypes: the fixed-size kernels, the LAPACK-free solve, the BLAS and
    LAPACK path, rayon over stacks (each worker calling LAPACK), triangular and overflowing input."""
    rows = [
        ("expm 2x2 float64", _matrix(1, (2, 2), np.float64)),
        ("expm 3x3 float32 x 2000", _matrix(2, (2000, 3, 3), np.float32)),
        ("expm 8x8 complex128", _matrix(3, (8, 8), np.complex128, 20.0)),
        ("expm 12x12 float64", _matrix(4, (12, 12), np.float64, 8.0)),
        ("expm 30x30 complex64", _matrix(5, (30, 30), np.complex64)),
        ("expm 20x20 float64 x 64", _matrix(7, (64, 20, 20), np.float64, 5.0)),
        ("expm 6x6 complex64 x 500", _matrix(8, (500, 6, 6), np.complex64)),
        ("expm triangular 40x40", np.triu(_matrix(9, (40, 40), np.float64, 10.0))),
        ("expm overflowing block 12x12", _reducible_overflow()),
    ]
    return [Workload(name, _expm(a)) for name, a in rows] + [
        Workload("expm 150x150 float64", _expm(_matrix(6, (150, 150), np.float64, 30.0))),
        Workload("expm 128x128 float64 x 6", _expm(_matrix(10, (6, 128, 128), np.float64, 8.0))),
        # The products and LU split into panels (rust/linflow/src/dense.rs): the orders where
        # OpenBLAS's own threads rounded differently from one thread (dgemm at 200, 300, 400;
        # dgetrf at 300, 400), real and complex.
        Workload("expm 200x200 float64", _expm(_matrix(25, (200, 200), np.float64, 10.0))),
        Workload("expm 300x300 float64", _expm(_matrix(26, (300, 300), np.float64, 10.0))),
        Workload("expm 400x400 float64", _expm(_matrix(27, (400, 400), np.float64, 10.0))),
        Workload("expm 300x300 complex128", _expm(_matrix(28, (300, 300), np.complex128, 10.0))),
        Workload("expm 200x200 float32 x 3", _expm(_matrix(29, (3, 200, 200), np.float32, 10.0))),
        # Flows (issue 4): the scalar stepping kernel, rayon over blocks of a uniform grid and
        # over the times of an uneven one, direct anchors, and above order 64 one exponential at
        # a time with BLAS's own threads.
        Workload("trajectory 6x6, 400 times", _trajectory(12, 6, np.float64, (1,), np.linspace(0, 5, 400))),
        Workload("trajectory 20x20 x 300 states, 100 times", _trajectory(13, 20, np.float64, (300,), np.linspace(-1, 2, 100))),
        Workload("trajectory 40x40 complex128, uneven", _trajectory(14, 40, np.complex128, (3,), UNEVEN)),
        Workload("trajectory 12x12 float32, reversed grid", _trajectory(15, 12, np.float32, (4,), np.linspace(3, -1, 90))),
        Workload("trajectory 120x120, uneven", _trajectory(16, 120, np.float64, (2,), UNEVEN)),
        Workload("trajectory 300x300, uneven", _trajectory(30, 300, np.float64, (3,), UNEVEN)),
        Workload("propagator 8x8 x 50 steps", lambda: linflow.propagator(_matrix(17, (8, 8), np.float64), np.linspace(0, 1, 50))),
        Workload("Propagator.iterate 16x16, 500 steps", lambda: linflow.Propagator(_matrix(18, (16, 16), np.float64), 0.01).iterate(np.ones(16), 500)),
        # Action and Frechet derivative (issue 5): dense, CSR and DIA, with and without a grid.
        Workload("expm_multiply 200x200 dense, grid", _action(_matrix(19, (200, 200), np.float64, 10.0), (200, 3), (0.0, 1.0, 7))),
        Workload("expm_multiply 60x60 complex64", _action(_matrix(20, (60, 60), np.complex64, 5.0), (60,), None)),
        Workload("expm_multiply CSR 3000, grid", _action(_laplacian(3000, "csr"), (3000, 2), (-0.5, 1.0, 5))),
        Workload("expm_multiply DIA 3000", _action(_laplacian(3000, "dia"), (3000,), None)),
        Workload("expm_frechet 20x20 x 8", lambda: linflow.expm_frechet(_matrix(21, (8, 20, 20), np.float64, 4.0), _matrix(22, (20, 20), np.float64))),
        Workload("expm_multiply 300x300 dense", _action(_matrix(31, (300, 300), np.float64, 10.0), (300, 2), None)),
        Workload("expm_frechet 100x100", lambda: linflow.expm_frechet(_matrix(32, (100, 100), np.float64, 8.0), _matrix(33, (100, 100), np.float64))),
        Workload("expm_frechet 300x300", lambda: linflow.expm_frechet(_matrix(34, (300, 300), np.float64, 8.0), _matrix(35, (300, 300), np.float64))),
        Workload("expm_cond 100x100", lambda: linflow.expm_cond(_matrix(36, (100, 100), np.float64, 8.0))),
    ]


def digest(result: Any) -> str:
    """SHA-256 of a result's arrays: dtype, shape and every bit."""
    h = hashlib.sha256()
    for a in result if isinstance(result, tuple) else (result,):
        a = np.ascontiguousarray(a)
        h.update(a.dtype.str.encode() + repr(a.shape).encode() + a.tobytes())
    return h.hexdigest()


def digests() -> dict[str, str]:
    return {w.name: digest(w.call()) for w in workloads()}


# ------------------------------------------------------------------ the GIL


def long_input() -> np.ndarray:
    """A dense 700x700 float64 matrix of norm 50: about 0.3-1 s of expm on 2 cores."""
    return _matrix(11, (700, 700), np.float64, 50.0)


def _long_trajectory() -> Callable[[], Any]:
    """A 300x300 system at 8 uneven times: 8 exponentials, one at a time with BLAS's threads."""
    return _trajectory(24, 300, np.float64, (4,), UNEVEN * 5.0)


def _long_action() -> Callable[[], Any]:
    """The action of a 1-D Laplacian of order 50000 (CSR) on 4 vectors at 4 times."""
    return _action(_laplacian(50_000, "csr"), (50_000, 4), (0.0, 1.0, 4))


# (id, the call): each takes some tenths of a second on 2 cores.
LONG_CALLS = [
    ("expm 700x700", lambda: (lambda a: lambda: linflow.expm(a))(long_input())),
    ("trajectory 300x300", _long_trajectory),
    ("expm_multiply CSR 50000", _long_action),
]


@pytest.mark.parametrize("make", [pytest.param(m, id=i) for i, m in LONG_CALLS])
def test_gil_released_during_a_long_call(make: Callable[[], Callable[[], Any]]) -> None:
    """Another Python thread runs while a long call runs, and does not while a GIL-holding call of
    the same kind of length runs (the control that shows the protocol can tell the two apart).

    The switch interval is raised to 30 s around the calls, so that the interpreter never takes the
    GIL from the main thread by itself: the counting thread can only run while the main thread
    gives the GIL away, which is what ``py.detach`` in the binding does. No timing is asserted:
    only whether the counter moved during the call."""
    long_call = make()
    state = {"in_call": False, "stop": False, "progress": 0}
    started = threading.Event()

    def count() -> None:
        started.set()
        k = 0
        while not state["stop"]:
            if state["in_call"]:
                state["progress"] += 1
            k += 1
            if k % 100 == 0:
                # Blocks (without the GIL) briefly, so that the main thread gets the GIL back as
                # soon as it wants it, whatever the switch interval.
                threading.Event().wait(1e-4)

    def progress_during(call: Callable[[], Any]) -> int:
        state["progress"] = 0
        state["in_call"] = True
        call()
        state["in_call"] = False
        return int(state["progress"])

    def hold_the_gil() -> None:
        # Pure Python for a while: it never gives the GIL away by itself.
        x = 0
        for i in range(3_000_000):
            x += i

    thread = threading.Thread(target=count, daemon=True)
    thread.start()
    started.wait()
    old = sys.getswitchinterval()
    sys.setswitchinterval(30.0)
    try:
        control = progress_during(hold_the_gil)
        # A loaded machine may not schedule the counter during one call: up to three calls.
        during = []
        while len(during) < 3 and not any(during):
            during.append(progress_during(long_call))
    finally:
        sys.setswitchinterval(old)
        state["stop"] = True
        thread.join()
    assert control == 0, "the protocol must see no progress while the GIL is held"
    assert max(during) > 0, f"no progress of another thread during the call: {during}"


# ------------------------------------------------------------------ concurrent calls


def test_large_matrices_in_parallel():
    """Stacks of matrices large enough for OpenBLAS to use its own threads, computed by rayon's
    workers. OpenBLAS 0.3.21's threaded dgetrf and dgemm keep some MiB on the caller's stack: with
    rayon's default 2 MiB workers this crashed the interpreter (SIGSEGV, or "stack smashing
    detected" and SIGABRT), hence a subprocess. The results equal one-by-one calls."""
    code = """
import numpy as np, linflow
rng = np.random.default_rng(0)
for shape in [(8, 128, 128), (4, 300, 300), (3, 100, 100)]:
    x = rng.standard_normal(shape) / shape[-1] ** 0.5
    out = linflow.expm(x)
    assert all(np.array_equal(out[k], linflow.expm(x[k])) for k in range(shape[0])), shape
print("ok")
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", (run.returncode, run.stderr[-2000:])


def test_eight_threads_give_the_serial_results():
    """Eight threads run every workload three times at once, each in its own order (so that sizes,
    stacks and dtypes overlap), and get the serial result bit for bit."""
    table = workloads()
    serial = [digest(w.call()) for w in table]
    barrier = threading.Barrier(8)

    def worker(tid: int) -> list[tuple[int, str]]:
        barrier.wait()
        out = []
        for rep in range(3):
            for k in range(len(table)):
                j = (k * (tid + 1) + rep + tid) % len(table)
                out.append((j, digest(table[j].call())))
        return out

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(worker, range(8)))
    mismatches = [(table[j].name, tid) for tid, res in enumerate(results) for j, d in res if d != serial[j]]
    assert not mismatches, mismatches
    assert sum(len(r) for r in results) == 8 * 3 * len(table)


# ------------------------------------------------------------------ determinism


def digests_in_subprocess(env: dict[str, str]) -> dict[str, str]:
    """:func:`digests` in a fresh interpreter with ``env`` for the thread variables."""
    here = Path(__file__).resolve().parent
    code = (
        f"import sys, json; sys.path.insert(0, {str(here)!r}); import test_threads; "
        "print(json.dumps(test_threads.digests()))"
    )
    thread_vars = ("RAYON_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    full_env = {k: v for k, v in os.environ.items() if k not in thread_vars}
    full_env.update(env)
    out = subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_bit_identical_across_runs_and_rayon_threads():
    """The same inputs give the same bits in this process, in fresh processes, and with rayon on 1,
    2 or 3 threads (stacks are split over rayon's workers; every matrix is computed by one)."""
    here = digests()
    assert digests() == here
    for env in [{}, {"RAYON_NUM_THREADS": "1"}, {"RAYON_NUM_THREADS": "2"}, {"RAYON_NUM_THREADS": "3"}]:
        other = digests_in_subprocess(env)
        different = [name for name in here if other[name] != here[name]]
        assert not different, (env, different)


def test_bit_identical_across_openblas_and_rayon_threads():
    """With OpenBLAS on 1, 2 or 3 threads and rayon on 1, 2 or 3 (every pair), every workload gives
    the same bits, at every size: linflow keeps OpenBLAS on one thread and splits its products,
    LU and solves into pieces that depend on the sizes and layouts only
    (rust/linflow/src/dense.rs). Before, OpenBLAS 0.3.21's threaded dgemm (n = 200, 300, 400) and
    dgetrf (300, 400) rounded differently with their thread count."""
    here = digests()
    for blas in ("1", "2", "3"):
        for rayon in ("1", "2", "3"):
            env = {"OPENBLAS_NUM_THREADS": blas, "RAYON_NUM_THREADS": rayon}
            other = digests_in_subprocess(env)
            different = [name for name in here if other[name] != here[name]]
            assert not different, (env, different)


# ------------------------------------------------------------------ free-threaded Python


def test_free_threaded_import_keeps_the_gil_off():
    """pyo3 0.28 and later mark the module ``Py_MOD_GIL_NOT_USED`` (``gil_used = false`` is the
    default), and the core has no global mutable state (tests/README.md): a free-threaded
    interpreter imports linflow without turning the GIL back on."""
    if not sysconfig.get_config_var("Py_GIL_DISABLED"):
        pytest.skip("not a free-threaded Python build")
    assert not sys._is_gil_enabled(), "importing linflow re-enabled the GIL"
