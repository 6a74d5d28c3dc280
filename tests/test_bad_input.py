"""Bad input, unusual layouts and overflow for every public function that takes a matrix.

Two tables drive the tests: TARGETS (the public functions, each with a way to call it on a matrix
argument ``a``) and CASES (the inputs: layouts, dtypes, shapes, non-finite values, huge norms).
Every pair is one test: it asserts the documented outcome (a result, or a clear exception) and
that the caller's argument is unchanged, bit for bit and flag for flag. ``tests/README.md`` lists
the cases and their outcomes.

Plugging in a new function is one row of TARGETS: how to call it with a matrix ``a`` (the other
arguments valid and sized from ``a``), whether ``a`` may be a stack, its shape error, and the
outcomes that differ from the defaults (``outcomes``, keyed by case id). Its own bad arguments
(mismatched shapes of a second array, ``check_finite=False``) go in ``extra_cases``.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import scipy.linalg
from conftest import mp_expm
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import linflow

# ------------------------------------------------------------------ outcomes


@dataclass(frozen=True)
class Same:
    """The result for the same values as a plain C-contiguous, aligned, native-order ndarray of the
    same dtype, bit for bit, as a new ndarray (never a view of the argument, never a subclass)."""


@dataclass(frozen=True)
class Converted:
    """The result for the values converted to ``dtype`` first, bit for bit, in ``dtype``."""

    dtype: Any


@dataclass(frozen=True)
class Raises:
    """An exception of type ``exc`` (``"shape"``: the target's shape error) matching ``match``."""

    exc: Any
    match: str | None = None


@dataclass(frozen=True)
class Shape:
    """A result of this shape (``None``: the argument's) and dtype, without an exception."""

    shape: tuple[int, ...] | None
    dtype: Any


@dataclass(frozen=True)
class Returns:
    """Any result of the target's result shapes, without an exception (huge norms: inf and NaN
    allowed)."""


@dataclass(frozen=True)
class Finite:
    """A result of the target's result shapes, every entry finite: the exact value is
    representable (huge inputs whose exponential overflows, where the result does not)."""


@dataclass(frozen=True)
class Bug:
    """A known defect, reported and not yet fixed (the test is skipped, because the call hangs
    or gives the wrong outcome): ``what`` describes it in the README table."""

    what: str


@dataclass(frozen=True)
class Close:
    """The result of ``reference()`` (another way to ask for the same numbers, e.g. a dense
    matrix for a sparse one) to a relative ``rtol``, in the same dtype and shape."""

    reference: Callable[[], Any]
    rtol: float = 1e-12


# ------------------------------------------------------------------ the functions under test


def order(a: Any) -> int:
    """The matrix order ``n`` of an argument (its last axis), for sizing the other arguments."""
    shape = np.shape(a)
    return shape[-1] if shape else 1


@dataclass(frozen=True)
class Target:
    """A public function under test, called with a matrix argument ``a``."""

    name: str
    call: Callable[[Any], Any]
    # `a` may be a stack (..., n, n).
    batched: bool
    # Raised for a non-square `a` or one with fewer than 2 dimensions.
    shape_error: type[Exception]
    # A scalar or a one-element 1-D `a` is the 1x1 matrix [[a]] (scipy's expm rule).
    scalar_ok: bool
    # Outcomes that differ from the case's default, by case id.
    outcomes: dict[str, Any] = field(default_factory=dict)
    # The target's own cases (second arguments, keywords): (case id, call, outcome).
    extra_cases: tuple[tuple[str, Callable[[], Any], Any], ...] = ()
    # The shapes of the result's arrays for an argument of shape `s` (default: `s`).
    result_shapes: Callable[[tuple[int, ...]], list[tuple[int, ...]]] = lambda s: [s]
    # The matrix orders the cases are built with (ORDERS).
    orders: tuple[int, ...] = (3, 40)

    def __str__(self) -> str:
        return self.name


# ------------------------------------------------------------------ the inputs


def base(n: int, dtype: Any = np.float64) -> np.ndarray:
    """A fixed well-conditioned ``n x n`` matrix (norm about 1) of ``dtype``."""
    rng = np.random.default_rng(1000 + n)
    a = rng.standard_normal((n, n)) / n
    if np.issubdtype(dtype, np.complexfloating):
        a = a + 1j * rng.standard_normal((n, n)) / n
    return a.astype(dtype)


def stack(n: int, batch: int = 4) -> np.ndarray:
    return np.stack([base(n) * (k + 1) for k in range(batch)])


def unaligned(a: np.ndarray) -> np.ndarray:
    """``a`` (C order) in memory one byte off its type's alignment."""
    buf = np.zeros(a.nbytes + 1, dtype=np.uint8)
    buf[1:] = np.frombuffer(a.tobytes(), dtype=np.uint8)
    out = buf[1:].view(a.dtype).reshape(a.shape)
    assert not out.flags.aligned
    return out


def embedded(a: np.ndarray, steps: tuple[int, ...]) -> np.ndarray:
    """A view with the values of ``a`` inside a larger array, every ``steps`` entries (negative:
    reversed); the rest of the larger array holds 99."""
    big = np.full(tuple(abs(s) * d + 1 for s, d in zip(steps, a.shape)), 99.0, dtype=a.dtype)
    index = tuple(slice(1, None, s) if s > 0 else slice(None, 0, s) for s in steps)
    view = big[index][tuple(slice(0, d) for d in a.shape)]
    view[...] = a
    return view


def read_only(a: np.ndarray) -> np.ndarray:
    a = a.copy(order="K")
    a.setflags(write=False)
    return a


def matrix_subclass(a: np.ndarray) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix(a)


def with_value(a: np.ndarray, index: tuple[int, ...], value: Any) -> np.ndarray:
    a = a.copy()
    a[index] = value
    return a


@dataclass(frozen=True)
class Case:
    """One input, described by ``what``: ``build(n)`` gives the argument for matrix order ``n``;
    ``expect`` the default outcome; ``batch``: the argument is a stack (only for batched targets)."""

    id: str
    what: str
    build: Callable[[int], Any]
    expect: Any
    batch: bool = False


SHAPE = Raises("shape")
NON_FINITE = Raises(ValueError, "infs or NaNs")
UNSUPPORTED = Raises(TypeError, "unsupported dtype")

CASES = [
    # ---- layouts and containers: the values of a plain array, the same result
    Case("C-order", "a plain float64 matrix", lambda n: base(n), Same()),
    Case("Fortran-order", "column-major copy", lambda n: np.asfortranarray(base(n)), Same()),
    Case("transposed-view", "`.T` of a C array", lambda n: np.ascontiguousarray(base(n).T).T, Same()),
    Case("strided-view", "every 2nd row, 3rd column of a larger array", lambda n: embedded(base(n), (2, 3)), Same()),
    Case("negative-strides", "reversed rows, every 2nd column reversed", lambda n: embedded(base(n), (-1, -2)), Same()),
    Case("offset-view", "a window inside a larger array", lambda n: embedded(base(n), (1, 1)), Same()),
    Case("zero-strides", "`np.broadcast_to` of one row", lambda n: np.broadcast_to(base(n)[0], (n, n)), Same()),
    Case("read-only", "`writeable=False`", lambda n: read_only(base(n)), Same()),
    Case("read-only-Fortran", "read-only, column-major", lambda n: read_only(np.asfortranarray(base(n))), Same()),
    Case("big-endian", "`>f8`", lambda n: base(n).astype(">f8"), Same()),
    Case("big-endian-complex", "`>c16`", lambda n: base(n, np.complex128).astype(">c16"), Same()),
    Case("unaligned", "float64 data one byte off alignment", lambda n: unaligned(base(n)), Same()),
    Case("unaligned-complex64", "complex64, unaligned", lambda n: unaligned(base(n, np.complex64)), Same()),
    Case("np.matrix", "the `np.matrix` subclass (result: ndarray)", lambda n: matrix_subclass(base(n)), Same()),
    Case("list", "nested Python lists of floats", lambda n: base(n).tolist(), Same()),
    Case("tuple", "nested tuples", lambda n: tuple(map(tuple, base(n).tolist())), Same()),
    Case("int-list", "nested lists of ints (float64 result)", lambda n: (np.arange(n * n).reshape(n, n) % 3).tolist(), Same()),
    Case("complex-list", "nested lists of complex", lambda n: base(n, np.complex128).tolist(), Same()),
    Case("float32", "float32 (stays float32)", lambda n: base(n, np.float32), Same()),
    Case("complex64", "complex64 (stays complex64)", lambda n: base(n, np.complex64), Same()),
    Case("stack", "`(4, n, n)`", lambda n: stack(n), Same(), batch=True),
    Case("stack-strided", "every 2nd matrix of a larger stack", lambda n: embedded(stack(n, 6), (2, 1, 1)), Same(), batch=True),
    Case("stack-negative-strides", "`stack[::-1, ::-1]`", lambda n: stack(n)[::-1, ::-1], Same(), batch=True),
    Case(
        "stack-batch-axis-last-in-memory",
        "batch axis with the smallest stride",
        lambda n: np.ascontiguousarray(stack(n).transpose(1, 2, 0)).transpose(2, 0, 1),
        Same(),
        batch=True,
    ),
    Case("stack-zero-strides", "`np.broadcast_to(a, (5, n, n))`", lambda n: np.broadcast_to(base(n), (5, n, n)), Same(), batch=True),
    Case("stack-4-D-Fortran", "`(2, 3, n, n)`, column-major", lambda n: np.asfortranarray(stack(n, 6).reshape(2, 3, n, n)), Same(), batch=True),
    Case("stack-read-only", "read-only stack", lambda n: read_only(stack(n)), Same(), batch=True),
    Case(
        "stack-too-large-for-memory",
        "`np.broadcast_to(a, (2**40, n, n))`: terabytes of output",
        lambda n: np.broadcast_to(base(n), (2**40, n, n)),
        Raises(MemoryError),
        batch=True,
    ),
    # ---- dtypes converted by scipy's rules, or refused
    Case("bool", "bool", lambda n: base(n) > 0, Converted(np.float64)),
    *(
        Case(np.dtype(t).name, np.dtype(t).name, lambda n, t=t: (np.abs(base(n)) * 4).astype(t), Converted(np.float64))
        for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
    ),
    Case("float16", "float16", lambda n: base(n).astype(np.float16), Converted(np.float32)),
    Case("float16-largest", "float16 65504 everywhere", lambda n: np.full((n, n), 65504.0, np.float16), Converted(np.float32)),
    Case("big-endian-int", "`>i4`", lambda n: (np.abs(base(n)) * 4).astype(">i4"), Converted(np.float64)),
    Case("object-numbers", "object array of floats (scipy converts)", lambda n: base(n).astype(object), UNSUPPORTED),
    Case("object-None", "object array holding None", lambda n: with_value(base(n).astype(object), (0, 0), None), UNSUPPORTED),
    Case("str", "`<U32` strings", lambda n: base(n).astype(str), UNSUPPORTED),
    Case("bytes", "`S8` bytes", lambda n: base(n).astype("S8"), UNSUPPORTED),
    Case("datetime64", "datetime64 (scipy converts)", lambda n: np.zeros((n, n), dtype="datetime64[s]"), UNSUPPORTED),
    Case("timedelta64", "timedelta64 (scipy converts)", lambda n: np.zeros((n, n), dtype="timedelta64[s]"), UNSUPPORTED),
    Case("structured", "structured dtype `[('x', 'f8')]`", lambda n: np.zeros((n, n), dtype=[("x", "f8")]), UNSUPPORTED),
    Case("void", "`V8`", lambda n: np.zeros((n, n), dtype="V8"), UNSUPPORTED),
    Case("longdouble", "float128 (scipy computes in it)", lambda n: base(n).astype(np.longdouble), UNSUPPORTED),
    Case("clongdouble", "complex256", lambda n: base(n).astype(np.clongdouble), UNSUPPORTED),
    Case("None", "`None`", lambda n: None, UNSUPPORTED),
    Case("string", "the string `'abc'`", lambda n: "abc", UNSUPPORTED),
    Case("ragged-list", "`[[1, 2], [3]]` (numpy's error)", lambda n: [[1.0, 2.0], [3.0]], Raises(ValueError, "inhomogeneous|sequence")),
    # ---- shapes
    Case("scalar", "`np.float64(0.5)`", lambda n: np.float64(0.5), Shape((1, 1), np.float64)),
    Case("0-d-array", "`np.array(0.5)`", lambda n: np.array(0.5), Shape((1, 1), np.float64)),
    Case("1-D-one-element", "`np.array([0.5])`", lambda n: np.array([0.5]), Shape((1, 1), np.float64)),
    Case("1-D", "`(n,)`", lambda n: np.ones(n), SHAPE),
    Case("1-D-empty", "`(0,)`", lambda n: np.ones(0), SHAPE),
    Case("non-square", "`(n, n + 1)`", lambda n: np.ones((n, n + 1)), SHAPE),
    Case("non-square-empty", "`(0, n)`", lambda n: np.ones((0, n)), SHAPE),
    Case("non-square-stack", "`(2, n, n + 1)`", lambda n: np.ones((2, n, n + 1)), SHAPE, batch=True),
    Case("empty", "`(0, 0)` float64", lambda n: np.ones((0, 0)), Shape(None, np.float64)),
    Case("empty-int", "`(0, 0)` int32", lambda n: np.ones((0, 0), dtype=np.int32), Shape(None, np.float64)),
    Case("empty-float32", "`(0, 0)` float32", lambda n: np.ones((0, 0), dtype=np.float32), Shape(None, np.float32)),
    Case("zero-size-batch", "`(0, n, n)`", lambda n: np.ones((0, n, n)), Shape(None, np.float64), batch=True),
    Case("zero-size-batch-4-D", "`(2, 0, n, n)`", lambda n: np.ones((2, 0, n, n)), Shape(None, np.float64), batch=True),
    Case("stack-of-empty", "`(3, 0, 0)`", lambda n: np.ones((3, 0, 0)), Shape(None, np.float64), batch=True),
    Case("stack-of-1x1", "`(3, 1, 1)` float32", lambda n: np.full((3, 1, 1), 0.5, np.float32), Shape(None, np.float32), batch=True),
    # ---- NaN and infinity
    Case("NaN", "one NaN", lambda n: with_value(base(n), (0, n - 1), np.nan), NON_FINITE),
    Case("inf", "one inf", lambda n: with_value(base(n), (n - 1, 0), np.inf), NON_FINITE),
    Case("-inf", "one -inf", lambda n: with_value(base(n), (0, 0), -np.inf), NON_FINITE),
    Case("NaN-float32", "float32 NaN", lambda n: with_value(base(n, np.float32), (0, 0), np.nan), NON_FINITE),
    Case("inf-float16", "float16 inf", lambda n: with_value(base(n).astype(np.float16), (0, 0), np.inf), NON_FINITE),
    Case("NaN-imaginary", "complex128 with a NaN imaginary part", lambda n: with_value(base(n, np.complex128), (0, 0), complex(0, np.nan)), NON_FINITE),
    Case("inf-complex64", "complex64 `inf + 0j`", lambda n: with_value(base(n, np.complex64), (0, 0), complex(np.inf, 0)), NON_FINITE),
    Case("NaN-in-list", "nested lists with a NaN", lambda n: with_value(base(n), (0, 0), np.nan).tolist(), NON_FINITE),
    Case("NaN-in-one-of-a-stack", "a NaN in the last matrix of a stack", lambda n: with_value(stack(n), (3, 0, 0), np.nan), NON_FINITE, batch=True),
    # ---- extreme magnitudes: no exception; inf and NaN where exp(A) overflows
    Case("huge-entries", "entries about 1e300", lambda n: base(n) * 1e300, Returns()),
    Case("largest-float", "`finfo(float64).max` everywhere", lambda n: np.full((n, n), np.finfo(np.float64).max), Returns()),
    Case("-largest-float", "`-finfo(float64).max` everywhere", lambda n: np.full((n, n), -np.finfo(np.float64).max), Returns()),
    Case("largest-float32", "`finfo(float32).max` everywhere", lambda n: np.full((n, n), np.finfo(np.float32).max), Returns()),
    Case("subnormal-entries", "entries about 1e-310", lambda n: base(n) * 1e-310, Same()),
    Case("huge-int64", "`iinfo(int64).max` everywhere", lambda n: np.full((n, n), np.iinfo(np.int64).max), Returns()),
]

# ------------------------------------------------------------------ the functions and their own cases


def ones32(*shape: int) -> np.ndarray:
    """Ones in float32: as a second array of a flow function it leaves the dtype to ``a`` (the
    binding promotes float32 with any of the four computed dtypes to that dtype)."""
    return np.ones(shape, dtype=np.float32)


def ones_bool(*shape: int) -> np.ndarray:
    """Ones in bool: numpy's promotion of bool with any dtype is that dtype, so a bool second
    array of ``expm_frechet`` or ``expm_multiply`` leaves the computed dtype to the other one."""
    return np.ones(shape, dtype=bool)


def fixed_bool(n: int) -> np.ndarray:
    """A fixed bool ``n x n`` matrix (a dtype-neutral ``A`` for the cases of the other argument)."""
    return np.random.default_rng(7 + n).standard_normal((n, n)) > 0.3


UNEVEN = [0.0, 0.3, 1.1, -0.5]
UNIFORM = np.linspace(-0.5, 1.5, 70)


def system_calls(a: Any) -> tuple[np.ndarray, ...]:
    """LinearSystem: the constructor and the methods that take arrays."""
    s = linflow.LinearSystem(a)
    n = order(a)
    return s.propagator(0.5).matrix, s.trajectory(ones32(n), UNEVEN), s.flow_map(ones32(2, n), 0.5)


def propagator_calls(a: Any) -> tuple[np.ndarray, ...]:
    """Propagator: the constructor, step (one state, then 3 steps of a stack) and iterate."""
    p = linflow.Propagator(a, 0.5)
    n = order(a)
    return p.matrix, p.step(ones32(n)), p.step(ones32(2, n), steps=3), p.iterate(ones32(n), 40)


def field_arrows(a: Any) -> tuple[np.ndarray, ...]:
    """vector_field's arrows (its grid is linspace's float64 whatever the dtype of ``a``)."""
    f = linflow.vector_field(a, num=4, dt=0.5)
    return f.u, f.v


def last(s: tuple[int, ...]) -> int:
    return s[-1] if s else 1


def _sparse(a: Any, fmt: str) -> Any:
    import scipy.sparse

    return scipy.sparse.coo_array(np.asarray(a)).asformat(fmt)


def _operator(a: Any, **kw: Any) -> Any:
    import scipy.sparse.linalg

    return scipy.sparse.linalg.aslinearoperator(np.asarray(a), **kw)


def flush(x: np.ndarray) -> np.ndarray:
    """``x`` with entries below 1e-300 in modulus set to 0 (exact values far below that)."""
    return np.where(np.abs(x) < 1e-300, 0.0, x)


def _nan_operator(n: int) -> Any:
    import scipy.sparse.linalg

    def mv(x: np.ndarray) -> np.ndarray:
        return np.full(x.shape, np.nan)

    return scipy.sparse.linalg.LinearOperator((n, n), matvec=mv, rmatvec=mv, matmat=mv, rmatmat=mv, dtype=np.float64)


A3 = np.array([[-0.5, 1.0, 0.0], [-1.0, -0.5, 0.2], [0.0, 0.3, -0.1]])
A128 = np.random.default_rng(128).standard_normal((128, 128)) / 128**0.5
TIMES128 = np.sort(np.random.default_rng(1).uniform(-2.0, 2.0, 12))


def expm_ref(a: np.ndarray) -> np.ndarray:
    return scipy.linalg.expm(a)

X3 = np.array([1.0, -2.0, 0.5])
LAP = np.diag(-2.0 * np.ones(30)) + np.diag(np.ones(29), 1) + np.diag(np.ones(29), -1)
SHAPE_E = ValueError
T4 = [0.0, 1.0, 0.25, 3.0]


def _flow_extras(name: str, call3: Callable[..., Any], shape: tuple[int, ...]) -> tuple[tuple[str, Callable[[], Any], Any], ...]:
    """Cases of the state argument shared by trajectory, flow_map and Propagator.step."""
    return (
        (f"{name}-wrong-length", lambda: call3(np.ones(4)), Raises(ValueError, "shape")),
        (f"{name}-scalar", lambda: call3(1.0), Raises(ValueError)),
        (f"{name}-NaN", lambda: call3(np.array([1.0, np.nan, 0.0])), Raises(ValueError, "infs or NaNs")),
        (f"{name}-inf-float32", lambda: call3(np.float32([1.0, np.inf, 0.0])), Raises(ValueError, "infs or NaNs")),
        (f"{name}-object", lambda: call3(np.ones(3, dtype=object)), UNSUPPORTED),
        (f"{name}-str", lambda: call3(["a", "b", "c"]), UNSUPPORTED),
        (f"{name}-list", lambda: call3([1.0, -2.0, 0.5]), Close(lambda: call3(X3), 0.0)),
        (f"{name}-negative-strides", lambda: call3(np.array([0.5, 0, -2.0, 0, 1.0])[::-2]), Close(lambda: call3(X3), 0.0)),
        (f"{name}-read-only", lambda: call3(read_only(X3)), Close(lambda: call3(X3), 0.0)),
        (f"{name}-big-endian", lambda: call3(X3.astype(">f8")), Close(lambda: call3(X3), 0.0)),
        (f"{name}-stack-Fortran", lambda: call3(np.asfortranarray(np.stack([X3, 2 * X3]))), Close(lambda: call3(np.stack([X3, 2 * X3])), 0.0)),
        (f"{name}-complex64-promotes", lambda: call3(X3.astype(np.complex64)), Close(lambda: call3(X3.astype(np.complex128)), 0.0)),
        (f"{name}-huge", lambda: call3(np.full(3, 1e308)), Shape(shape, np.float64)),
    )


# numpy.asarray(None) and asarray("abc") are 0-d: the shape check of the scipy-shaped wrappers
# comes first.
ASARRAY_FIRST = {"None": Raises(ValueError), "string": Raises(ValueError)}
# The Taylor steps of expm_multiply grow as ||A||_1 (s = ||A||_1 / theta_m): about 1e300 steps for
# these, where scipy hangs. linflow raises ValueError where they would exceed 1e9 products with A.
ACTION_TOO_MANY_STEPS = {
    c: Raises(ValueError, "too large for Taylor steps")
    for c in ("huge-entries", "largest-float", "-largest-float", "largest-float32", "huge-int64")
}

TARGETS = [
    Target("expm", linflow.expm, batched=True, shape_error=np.linalg.LinAlgError, scalar_ok=True),
    # ---- flows (issue 4): a square 2-D `a`, ValueError for any other shape
    Target("propagator", lambda a: linflow.propagator(a, 0.5), batched=False, shape_error=ValueError, scalar_ok=False,
           extra_cases=(
               ("dt-steps-empty", lambda: linflow.propagator(A3, []), Shape((0, 3, 3), np.float64)),
               ("dt-2-D", lambda: linflow.propagator(A3, [[0.5]]), Raises(ValueError, "1-D")),
               ("dt-NaN", lambda: linflow.propagator(A3, np.nan), Raises(ValueError, "infs or NaNs")),
               ("dt-inf-in-steps", lambda: linflow.propagator(A3, [0.5, np.inf]), Raises(ValueError, "infs or NaNs")),
               ("dt-complex", lambda: linflow.propagator(A3, 0.5j), Raises(TypeError, "real")),
               ("dt-str", lambda: linflow.propagator(A3, "0.5"), Raises(TypeError, "real")),
               ("dt-None", lambda: linflow.propagator(A3, None), Raises(TypeError, "real")),
               ("dt-int", lambda: linflow.propagator(A3, 2), Close(lambda: linflow.propagator(A3, 2.0), 0.0)),
               ("dt-huge", lambda: linflow.propagator(-np.eye(3), 1e308), Close(lambda: np.zeros((3, 3)), 0.0)),
               ("dt-overflowing-product", lambda: linflow.propagator(np.diag([1e308, -1e308, 0.0]), 4.0), Close(lambda: np.diag([np.inf, 0.0, 1.0]), 0.0)),
           )),
    Target("propagator (steps)", lambda a: linflow.propagator(a, [0.5, 0.0, -1.0]), batched=False, shape_error=ValueError, scalar_ok=False,
           result_shapes=lambda s: [(3, *s)]),
    Target("trajectory", lambda a: linflow.trajectory(a, ones32(order(a)), UNEVEN), batched=False, shape_error=ValueError, scalar_ok=False,
           result_shapes=lambda s: [(4, last(s))],
           extra_cases=(
               *_flow_extras("x0", lambda x: linflow.trajectory(A3, x, T4), (4, 3)),
               ("x0-empty-batch", lambda: linflow.trajectory(A3, np.ones((0, 3)), T4), Shape((0, 4, 3), np.float64)),
               ("x0-batch-4-D", lambda: linflow.trajectory(A3, np.ones((2, 1, 2, 3)), T4), Shape((2, 1, 2, 4, 3), np.float64)),
               ("t-empty", lambda: linflow.trajectory(A3, X3, []), Shape((0, 3), np.float64)),
               ("t-one-time", lambda: linflow.trajectory(A3, X3, [0.7]), Close(lambda: (linflow.expm(0.7 * A3) @ X3)[None], 1e-14)),
               ("t-repeated", lambda: linflow.trajectory(A3, X3, [0.7, 0.7, 0.7]), Close(lambda: np.tile(linflow.expm(0.7 * A3) @ X3, (3, 1)), 1e-14)),
               ("t-scalar", lambda: linflow.trajectory(A3, X3, 0.5), Raises(ValueError, "1-D")),
               ("t-2-D", lambda: linflow.trajectory(A3, X3, np.ones((2, 2))), Raises(ValueError, "1-D")),
               ("t-NaN", lambda: linflow.trajectory(A3, X3, [0.0, np.nan]), Raises(ValueError, "infs or NaNs")),
               ("t-inf", lambda: linflow.trajectory(A3, X3, [np.inf, 0.0]), Raises(ValueError, "infs or NaNs")),
               ("t-complex", lambda: linflow.trajectory(A3, X3, [0.5j]), Raises(TypeError, "real")),
               ("t-str", lambda: linflow.trajectory(A3, X3, ["a"]), Raises(TypeError, "real")),
               ("t-negative-strides", lambda: linflow.trajectory(A3, X3, np.repeat(T4, 2)[::-2]), Close(lambda: linflow.trajectory(A3, X3, T4[::-1]), 0.0)),
               ("t-huge", lambda: linflow.trajectory(-np.eye(3), X3, [0.0, 1e308]), Close(lambda: np.stack([X3, 0 * X3]), 0.0)),
               ("t-overflowing-product", lambda: linflow.trajectory(np.diag([1e308, -1e308, 0.0]), np.ones(3), [2.0, -2.0]), Close(lambda: np.array([[np.inf, 0.0, 1.0], [0.0, np.inf, 1.0]]), 0.0)),
               ("uneven-grid-128x128", lambda: linflow.trajectory(A128, np.ones((2, 128)), TIMES128), Close(lambda: np.stack([[expm_ref(t * A128) @ np.ones(128)] * 2 for t in TIMES128], axis=1), 1e-12)),
           )),
    Target("trajectory (uniform grid)", lambda a: linflow.trajectory(a, ones32(3, order(a)), UNIFORM), batched=False, shape_error=ValueError,
           scalar_ok=False, result_shapes=lambda s: [(3, 70, last(s))]),
    Target("flow_map", lambda a: linflow.flow_map(a, ones32(3, order(a)), 0.5), batched=False, shape_error=ValueError, scalar_ok=False,
           result_shapes=lambda s: [(3, last(s))],
           extra_cases=(
               *_flow_extras("points", lambda x: linflow.flow_map(A3, x, 0.5), (3,)),
               ("dt-NaN", lambda: linflow.flow_map(A3, X3, np.nan), Raises(ValueError, "infs or NaNs")),
               ("dt-array", lambda: linflow.flow_map(A3, X3, [0.5, 1.0]), Raises((ValueError, TypeError))),
           )),
    Target("discretize", lambda a: linflow.discretize(a, ones32(order(a), 2), 0.5), batched=False, shape_error=ValueError, scalar_ok=False,
           result_shapes=lambda s: [s, (last(s), 2)],
           extra_cases=(
               ("b-wrong-rows", lambda: linflow.discretize(A3, np.ones((4, 1)), 0.5), Raises(ValueError, "shape")),
               ("b-1-D", lambda: linflow.discretize(A3, np.ones(3), 0.5), Close(lambda: (lambda ad, bd: (ad, bd[:, 0]))(*linflow.discretize(A3, np.ones((3, 1)), 0.5)), 0.0)),
               ("b-no-inputs", lambda: linflow.discretize(A3, np.ones((3, 0)), 0.5), Close(lambda: (linflow.propagator(A3, 0.5), np.ones((3, 0))), 1e-14)),
               ("b-NaN", lambda: linflow.discretize(A3, [[1.0], [np.nan], [0.0]], 0.5), Raises(ValueError, "infs or NaNs")),
               ("b-object", lambda: linflow.discretize(A3, np.ones((3, 1), dtype=object), 0.5), UNSUPPORTED),
               ("b-negative-strides", lambda: linflow.discretize(A3, np.ones((6, 2))[::-2], 0.5), Close(lambda: linflow.discretize(A3, np.ones((3, 2)), 0.5), 0.0)),
               ("dt-inf", lambda: linflow.discretize(A3, np.ones((3, 1)), np.inf), Raises(ValueError, "infs or NaNs")),
           )),
    Target("Propagator", propagator_calls, batched=False, shape_error=ValueError, scalar_ok=False,
           result_shapes=lambda s: [s, (last(s),), (2, last(s)), (41, last(s))],
           extra_cases=(
               *_flow_extras("x", lambda x: linflow.Propagator(A3, 0.5).step(x), (3,)),
               ("steps-float", lambda: linflow.Propagator(A3, 0.5).step(X3, 1.5), Raises(TypeError)),
               ("iterate-negative", lambda: linflow.Propagator(A3, 0.5).iterate(X3, -1), Raises(ValueError)),
               ("iterate-too-long", lambda: linflow.Propagator(A3, 0.5).iterate(X3, 2**62), Raises((MemoryError, ValueError), "too big|memory")),
               ("dt-NaN", lambda: linflow.Propagator(A3, np.nan), Raises(ValueError)),
               ("dt-array", lambda: linflow.Propagator(A3, [0.5]), Raises((ValueError, TypeError))),
           )),
    Target("LinearSystem", system_calls, batched=False, shape_error=ValueError, scalar_ok=False,
           result_shapes=lambda s: [s, (4, last(s)), (2, last(s))]),
    # 2x2 systems only: every other order is the shape error.
    Target("vector_field", field_arrows, batched=False, shape_error=ValueError, scalar_ok=False, orders=(2,),
           result_shapes=lambda s: [(4, 4), (4, 4)],
           outcomes={"empty": SHAPE, "empty-int": SHAPE, "empty-float32": SHAPE},
           extra_cases=(
               ("3x3", lambda: linflow.vector_field(A3), Raises(ValueError)),
               ("dt-NaN", lambda: linflow.vector_field(A3[:2, :2], dt=np.nan), Raises(ValueError)),
               ("xlim-inf", lambda: linflow.vector_field(A3[:2, :2], xlim=(0.0, np.inf)), Raises(ValueError)),
           )),
    # ---- Frechet derivative and condition number (issue 5): stacks, ValueError for shapes
    Target("expm_frechet", lambda a: linflow.expm_frechet(a, ones_bool(*np.shape(a))), batched=True, shape_error=ValueError, scalar_ok=False,
           result_shapes=lambda s: [s, s], outcomes=ASARRAY_FIRST,
           extra_cases=(
               ("E-mismatched", lambda: linflow.expm_frechet(A3, np.ones((2, 2))), Raises(ValueError, "same shape")),
               ("E-batch-mismatched", lambda: linflow.expm_frechet(np.stack([A3] * 2), np.stack([A3] * 3)), Raises(ValueError)),
               ("E-broadcast-batch", lambda: linflow.expm_frechet(np.stack([A3, -A3]), np.eye(3)), Shape((2, 3, 3), np.float64)),
               ("E-NaN", lambda: linflow.expm_frechet(A3, with_value(A3, (0, 0), np.nan)), NON_FINITE),
               ("check_finite=False-NaN", lambda: linflow.expm_frechet(with_value(A3, (1, 1), np.nan), A3, check_finite=False), NON_FINITE),
               ("method-unknown", lambda: linflow.expm_frechet(A3, A3, method="nope"), Raises(ValueError, "nope")),
               ("blockEnlarge", lambda: linflow.expm_frechet(A3, A3, method="blockEnlarge"), Close(lambda: linflow.expm_frechet(A3, A3), 1e-13)),
               ("compute_expm=False", lambda: linflow.expm_frechet(A3, A3, compute_expm=False), Close(lambda: linflow.expm_frechet(A3, A3)[1], 0.0)),
           )),
    Target("expm_frechet (E)", lambda e: linflow.expm_frechet(fixed_bool(order(e)), e), batched=False, shape_error=ValueError, scalar_ok=False,
           result_shapes=lambda s: [s, s],
           outcomes={"empty": Shape(None, np.float64), **ASARRAY_FIRST}),
    Target("expm_cond", linflow.expm_cond, batched=True, shape_error=ValueError, scalar_ok=False,
           result_shapes=lambda s: [s[:-2]],
           outcomes={
               **ASARRAY_FIRST,
               "stack-too-large-for-memory": Raises(MemoryError),
               # exp(A) overflows, kappa (a ratio) does not: 3c or 40c for c * ones, finite
               # for 1e300 entries; for float32's largest, 3c overflows float32 (inf).
               **{c: Finite() for c in ("huge-entries", "huge-int64", "float16-largest")},
           },
           extra_cases=(
               ("check_finite=False-NaN", lambda: linflow.expm_cond(with_value(A3, (1, 1), np.nan), check_finite=False), NON_FINITE),
               ("empty-is-NaN", lambda: np.isnan(linflow.expm_cond(np.ones((0, 0)))), Shape((), np.bool_)),
           )),
    # ---- action of expm (issue 5): dense, scipy.sparse and LinearOperator `A`; `B` (n,) or (n, k)
    Target("expm_multiply", lambda a: linflow.expm_multiply(a, ones_bool(order(a))), batched=False, shape_error=ValueError, scalar_ok=False,
           result_shapes=lambda s: [(last(s),)], outcomes={**ASARRAY_FIRST, **ACTION_TOO_MANY_STEPS},
           extra_cases=(
               *(
                   (f"sparse-{fmt}", lambda fmt=fmt: linflow.expm_multiply(_sparse(LAP, fmt), X3.repeat(10)), Close(lambda: linflow.expm_multiply(LAP, X3.repeat(10))))
                   for fmt in ("csr", "csc", "coo", "dia", "bsr", "lil", "dok")
               ),
               ("sparse-int", lambda: linflow.expm_multiply(_sparse(LAP.astype(np.int8), "csr"), X3.repeat(10)), Close(lambda: linflow.expm_multiply(LAP, X3.repeat(10)))),
               ("sparse-bool", lambda: linflow.expm_multiply(_sparse(LAP > 0, "csr"), X3.repeat(10)), Close(lambda: linflow.expm_multiply(LAP > 0, X3.repeat(10)))),
               ("sparse-float32", lambda: linflow.expm_multiply(_sparse(LAP.astype(np.float32), "csr"), X3.repeat(10).astype(np.float32)), Close(lambda: linflow.expm_multiply(LAP.astype(np.float32), X3.repeat(10).astype(np.float32)), 1e-5)),
               ("sparse-complex", lambda: linflow.expm_multiply(_sparse(1j * LAP, "csr"), X3.repeat(10)), Close(lambda: linflow.expm_multiply(1j * LAP, X3.repeat(10)))),
               ("sparse-NaN", lambda: linflow.expm_multiply(_sparse(with_value(LAP, (0, 0), np.nan), "csr"), X3.repeat(10)), NON_FINITE),
               ("sparse-inf-DIA", lambda: linflow.expm_multiply(_sparse(with_value(LAP, (0, 0), np.inf), "dia"), X3.repeat(10)), NON_FINITE),
               ("sparse-non-square", lambda: linflow.expm_multiply(_sparse(np.ones((3, 4)), "csr"), X3), Raises(ValueError, "square")),
               ("sparse-empty", lambda: linflow.expm_multiply(_sparse(np.ones((0, 0)), "csr"), np.ones(0)), Shape((0,), np.float64)),
               ("sparse-B", lambda: linflow.expm_multiply(LAP, _sparse(np.eye(30)[:, :2], "csr")), Close(lambda: linflow.expm_multiply(LAP, np.eye(30)[:, :2]), 0.0)),
               ("operator", lambda: linflow.expm_multiply(_operator(LAP), X3.repeat(10), traceA=-60.0), Close(lambda: linflow.expm_multiply(LAP, X3.repeat(10)))),
               ("operator-non-square", lambda: linflow.expm_multiply(_operator(np.ones((3, 4))), X3), Raises(ValueError, "square")),
               # Its norm estimates are NaN, taken as infinite (NaN from built-in operators means an
               # overflow): ValueError, where the NaN used to be dropped and B returned unchanged.
               ("operator-giving-NaN", lambda: linflow.expm_multiply(_nan_operator(3), X3, traceA=0.0), Raises(ValueError, "too large")),
               ("B-wrong-length", lambda: linflow.expm_multiply(A3, np.ones(4)), Raises(ValueError, "incompatible")),
               ("B-3-D", lambda: linflow.expm_multiply(A3, np.ones((3, 1, 1))), Raises(ValueError)),
               ("B-NaN", lambda: linflow.expm_multiply(A3, [1.0, np.nan, 0.0]), NON_FINITE),
               ("B-object", lambda: linflow.expm_multiply(A3, np.ones(3, dtype=object)), Raises(TypeError)),
               ("B-no-columns", lambda: linflow.expm_multiply(A3, np.ones((3, 0))), Shape((3, 0), np.float64)),
               ("num-1", lambda: linflow.expm_multiply(A3, X3, start=0, stop=1, num=1), Raises(ValueError)),
               ("start-NaN", lambda: linflow.expm_multiply(A3, X3, start=np.nan, stop=1, num=3), Raises(ValueError)),
               ("stop-inf", lambda: linflow.expm_multiply(A3, X3, start=0, stop=np.inf, num=3), Raises(ValueError)),
               ("traceA-NaN", lambda: linflow.expm_multiply(A3, X3, traceA=np.nan), Raises(ValueError)),
               # ||A||_1 = 2e308 would take 1e307 Taylor steps (the norms of A^p overflow): ValueError
               # for a sparse A; a dense diagonal A is exponentiated exactly instead.
               ("huge-norm", lambda: linflow.expm_multiply(np.diag([1e308, -1e308, 0.0]), np.ones(3)), Close(lambda: np.array([np.inf, 0.0, 1.0]), 0.0)),
               ("huge-norm-csr", lambda: linflow.expm_multiply(_sparse(np.diag([1e308, -1e308, 0.0]), "csr"), np.ones(3)), Raises(ValueError, "too large for Taylor steps")),
               # The state overflows: [e^1000, e^-1000, 1] = [inf, 0, 1], never NaN (0 * inf);
               # e^-1000 = 5e-435 may come out as a few subnormal ulps (flushed below 1e-300).
               *(
                   (f"overflowing-state-{kind}", lambda make=make: flush(linflow.expm_multiply(make(np.diag([1e3, -1e3, 0.0])), np.ones(3))), Close(lambda: np.array([np.inf, 0.0, 1.0]), 0.0))
                   for kind, make in (("dense", np.asarray), ("csr", lambda a: _sparse(a, "csr")), ("dia", lambda a: _sparse(a, "dia")))
               ),
               # (exp at ||tA||_1 = 1e3 has relative condition number 1e3: a few dozen roundings
               # of that size, also in the zero row through the shift mu = trace(A) / 3.)
               ("overflowing-state-grid", lambda: linflow.expm_multiply(np.diag([1e3, -3.0, 0.0]), np.ones(3), start=0, stop=1, num=3), Close(lambda: np.array([[1.0, 1.0, 1.0], [np.exp(500.0), np.exp(-1.5), 1.0], [np.inf, np.exp(-3.0), 1.0]]), 1e3 * 50 * np.finfo(float).eps)),
           )),
    Target("expm_multiply (grid)", lambda a: linflow.expm_multiply(a, ones_bool(order(a), 2), start=-0.5, stop=1.0, num=5), batched=False,
           shape_error=ValueError, scalar_ok=False, result_shapes=lambda s: [(5, last(s), 2)], outcomes={**ASARRAY_FIRST, **ACTION_TOO_MANY_STEPS}),
    # The cases as `B` (an (n, k) matrix of n rows is a valid B: shapes that are errors for `A`
    # are results here).
    Target("expm_multiply (B)", lambda b: linflow.expm_multiply(fixed_bool(np.shape(b)[0] if np.ndim(b) else 1), b), batched=False,
           shape_error=ValueError, scalar_ok=False,
           outcomes={
               "1-D": Same(), "1-D-one-element": Same(), "1-D-empty": Shape(None, np.float64), "non-square": Same(),
               "non-square-empty": Shape(None, np.float64), **ASARRAY_FIRST,
           }),
]


CASE_IDS = [c.id for c in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS), "case ids must be unique"

# Matrix orders (a target's default): the fixed-size kernels (3) and the BLAS path with the GIL
# released (40).
ORDERS = (3, 40)


def pairs():
    for target in TARGETS:
        for case in CASES:
            if case.batch and not target.batched:
                continue
            for n in target.orders:
                yield pytest.param(target, case, n, id=f"{target}-{case.id}-n{n}")


# ------------------------------------------------------------------ checks


def snapshot(x: Any) -> Any:
    """Everything observable about an argument: type, values bit for bit, shape, strides, flags, and
    the bytes of the whole buffer it views (a write outside the view shows there)."""
    if isinstance(x, np.ndarray):
        root = x
        while isinstance(root.base, np.ndarray):
            root = root.base
        buffer = root.tobytes() if root.dtype != object else repr(root.tolist())
        # (A broadcast view can be far larger than its buffer: then the buffer says it all.)
        values = (x.tobytes() if x.dtype != object else repr(x.tolist())) if x.nbytes < 1 << 26 else None
        flags = {k: x.flags[k] for k in ("C_CONTIGUOUS", "F_CONTIGUOUS", "OWNDATA", "WRITEABLE", "ALIGNED")}
        return (type(x), x.dtype.str, x.shape, x.strides, flags, values, buffer)
    return (type(x), repr(x), copy.deepcopy(x))


def arrays_of(result: Any) -> list[np.ndarray]:
    """The arrays of a result: an array, or a (named) tuple of them."""
    if isinstance(result, tuple):
        return [a for item in result for a in arrays_of(item)]
    return [np.asarray(result)]


def canonical(arg: Any) -> np.ndarray:
    """The plain array of the same values: C order, aligned, native byte order, a new buffer."""
    a = np.asarray(arg)
    return np.array(a, dtype=a.dtype.newbyteorder("="), order="C", copy=True)


def bit_equal(got: np.ndarray, want: np.ndarray) -> None:
    assert type(got) is np.ndarray
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes(), (got, want)


def check_outcome(target: Target, arg: Any, outcome: Any, call: Callable[[], Any]) -> None:
    if isinstance(outcome, Bug):
        pytest.skip(f"known defect: {outcome.what}")
    if isinstance(outcome, Raises):
        exc = target.shape_error if outcome.exc == "shape" else outcome.exc
        with pytest.raises(exc, match=outcome.match):
            call()
        return
    result = call()
    got = arrays_of(result)
    for g in got:
        if isinstance(arg, np.ndarray) and arg.size:
            assert not np.shares_memory(g, arg), "the result must not be a view of the argument"
    if isinstance(outcome, Same):
        for g, w in zip(got, arrays_of(target.call(canonical(arg))), strict=True):
            bit_equal(g, w)
    elif isinstance(outcome, Converted):
        for g, w in zip(got, arrays_of(target.call(np.asarray(arg).astype(outcome.dtype))), strict=True):
            assert g.dtype == outcome.dtype
            bit_equal(g, w)
    elif isinstance(outcome, Shape):
        shapes = target.result_shapes(np.shape(arg)) if outcome.shape is None else [outcome.shape] * len(got)
        assert [(g.shape, g.dtype) for g in got] == [(shape, np.dtype(outcome.dtype)) for shape in shapes]
    elif isinstance(outcome, Returns):
        assert [g.shape for g in got] == target.result_shapes(np.shape(arg))
    elif isinstance(outcome, Finite):
        assert [g.shape for g in got] == target.result_shapes(np.shape(arg))
        assert all(np.all(np.isfinite(g)) for g in got), got
    elif isinstance(outcome, Close):
        for g, w in zip(got, arrays_of(outcome.reference()), strict=True):
            assert type(g) is np.ndarray and g.dtype == w.dtype and g.shape == w.shape
            assert np.allclose(g, w, rtol=outcome.rtol, atol=0), (g, w)
    else:
        raise AssertionError(f"unknown outcome {outcome!r}")


@pytest.mark.parametrize("target, case, n", list(pairs()))
def test_bad_input(target: Target, case: Case, n: int) -> None:
    arg = case.build(n)
    outcome = target.outcomes.get(case.id, case.expect)
    if case.id in ("scalar", "0-d-array", "1-D-one-element") and not target.scalar_ok and case.id not in target.outcomes:
        outcome = SHAPE
    before = snapshot(arg)
    check_outcome(target, arg, outcome, lambda: target.call(arg))
    assert snapshot(arg) == before, "the caller's argument changed"


def extra_cases():
    for target in TARGETS:
        for case_id, call, outcome in target.extra_cases:
            yield pytest.param(target, call, outcome, id=f"{target}-{case_id}")


# Empty until a target with more than one array argument lands (pytest then skips the test).
@pytest.mark.parametrize("target, call, outcome", list(extra_cases()))
def test_target_specific_bad_input(target: Target, call: Callable[[], Any], outcome: Any) -> None:
    check_outcome(target, None, outcome, call)


# ------------------------------------------------------------------ overflow, against scipy and mpmath


def rotation_blocks(first: float, n: int = 6) -> np.ndarray:
    """``diag(first, 0, R, R, ...)`` with the rotation generator ``R = [[0, 1], [-1, 0]]``: a
    reducible matrix whose first block overflows while the rotations stay finite."""
    a = np.kron(np.eye(n // 2), [[0.0, 1.0], [-1.0, 0.0]])
    a[:2, :2] = [[first, 0.0], [0.0, 0.0]]
    return a


# (id, matrix, dtype). The exact exp(A) is mpmath's at 60 digits, rounded to the dtype: where it
# is finite linflow must be finite and accurate, where it overflows linflow gives inf or NaN.
# "scipy" notes what scipy.linalg.expm 1.17 gives (the test checks that too).
OVERFLOW = [
    ("diagonal", [[1000.0, 0.0], [0.0, 1.0]], np.float64),  # scipy: right
    ("upper", [[1000.0, 1.0], [0.0, 1.0]], np.float64),  # scipy: right
    ("upper-3000", [[3000.0, 1.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]], np.float64),  # scipy: right
    ("upper-3000-middle", [[1.0, 1.0, 1.0], [0.0, 3000.0, 1.0], [0.0, 0.0, 1.0]], np.float64),  # right
    ("lower-3000", [[3000.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0]], np.float64),  # scipy: right
    ("upper-zero-superdiagonal", [[1e3, 0.0, 1.0], [0.0, 1e3, 0.0], [0.0, 0.0, 1.0]], np.float64),  # NaN
    ("upper-near-overflow", [[700.0, 1.0], [0.0, 710.0]], np.float64),  # scipy: inf for 2.2e307
    ("reducible-3000", rotation_blocks(3000.0), np.float64),  # scipy: all NaN
    ("reducible-3000-n12", rotation_blocks(3000.0, 12), np.float64),  # scipy: all NaN (BLAS path)
    ("reducible-100-float32", rotation_blocks(100.0), np.float32),  # scipy: all NaN
    ("dense-positive", [[1000.0, 1.0], [1.0, 1.0]], np.float64),  # scipy: inf, as exact
    ("rotation-growth", [[1000.0, -1.0], [1.0, 1000.0]], np.float64),  # exact +-inf; scipy +-inf
    ("edge-709", [[709.0, 1.0], [0.0, 709.0]], np.float64),  # finite 8.2e307
    ("edge-709-dense", [[709.0, 0.1], [0.1, 709.0]], np.float64),  # finite
    ("upper-huge-negative", [[-1e300, 1e300], [0.0, -1e300]], np.float64),  # exact 0; scipy NaN
    ("upper-nilpotent-largest", [[0.0, 1.7e308], [0.0, 0.0]], np.float64),  # exact finite; scipy NaN
    ("largest-entries", [[1.7e308, 1.7e308], [1.7e308, 1.7e308]], np.float64),  # inf; scipy NaN
    ("diagonal-float32", [[100.0, 0.0], [0.0, 1.0]], np.float32),  # scipy: right
    ("upper-float32", [[100.0, 1.0], [0.0, 1.0]], np.float32),
    ("complex-real-axis", [[1000.0 + 0j, 0.0], [0.0, 1.0]], np.complex128),  # inf + 0j, as numpy
]


def finite_max(dtype: Any) -> float:
    return float(np.finfo(np.dtype(dtype)).max)


@pytest.mark.parametrize("a, dtype", [pytest.param(a, d, id=i) for i, a, d in OVERFLOW])
def test_overflow_gives_inf_never_nan_where_exp_is_finite(a, dtype):
    a = np.array(a, dtype=dtype)
    exact = mp_expm(a.astype(np.complex128), dps=60)
    got = linflow.expm(a)
    with np.errstate(all="ignore"):
        ref = scipy.linalg.expm(a)
    big = finite_max(dtype)
    representable = (np.abs(exact.real) <= big) & (np.abs(exact.imag) <= big)
    # Where exp(A) is finite: finite, and as accurate as the squarings allow (the rotations of
    # the reducible cases are squared about 2^10 times with the scaling of the 3000 block).
    assert np.all(np.isfinite(got[representable])), got
    err = np.abs(got[representable] - exact[representable])
    assert np.all(err <= 1e3 * np.finfo(np.dtype(dtype)).eps * np.maximum(1.0, np.abs(exact[representable]))), (got, exact)
    # Where it overflows: inf or NaN, never a finite number (scipy does no better).
    assert not np.any(np.isfinite(got[~representable])), got
    # Never NaN where scipy gives a number or inf.
    assert not np.any(np.isnan(got) & ~np.isnan(ref)), (got, ref)
    # Real overflow is inf, not NaN, wherever exp(A) has a definite sign and the whole row and
    # column of the entry overflow alike (no inf - inf inside the product).
    if np.isrealobj(a) and np.all(exact.imag == 0) and np.all(exact.real >= 0):
        assert not np.any(np.isnan(got)), got


# ------------------------------------------------------------------ never crash (hypothesis)

NUMERIC_DTYPES = [
    np.bool_, np.int8, np.int64, np.uint16, np.uint64, np.float16, np.float32, np.float64,
    np.complex64, np.complex128, np.dtype(">f8"), np.dtype(">c8"),
]
UNSUPPORTED_DTYPES = [np.dtype(object), np.dtype("U3"), np.dtype("S3"), np.dtype("M8[s]"), np.longdouble]
ALLOWED_EXCEPTIONS = (ValueError, TypeError, np.linalg.LinAlgError, MemoryError)


@st.composite
def arguments(draw: Any) -> np.ndarray:
    """Arrays of any numeric (or unsupported) dtype, 0 to 4 dimensions of up to 5 (the last two
    often equal), any values (NaN, inf, huge, subnormal), in any layout: reversed, strided,
    transposed, Fortran, read-only, unaligned."""
    dtype = np.dtype(draw(st.sampled_from(NUMERIC_DTYPES + UNSUPPORTED_DTYPES[:2])))
    ndim = draw(st.integers(0, 4))
    shape = list(draw(hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=0, max_side=5)))
    if ndim >= 2 and draw(st.booleans()):
        shape[-1] = shape[-2]
    if dtype.kind in "OU":
        a = draw(hnp.arrays(np.float64, shape)).astype(dtype)
    elif draw(st.booleans()):
        a = draw(hnp.arrays(dtype, shape))
    else:
        # Moderate values (|a_ij| <= 8, so ||A||_1 <= 40): exp(A) is finite and must be.
        bounds = {
            "b": {},
            "u": {"max_value": 8},
            "i": {"min_value": -8, "max_value": 8},
            "f": {"min_value": -8.0, "max_value": 8.0},
            "c": {"max_magnitude": 8.0},
        }[dtype.kind]
        a = draw(hnp.arrays(dtype, shape, elements=hnp.from_dtype(dtype, **bounds)))
    layout = draw(st.sampled_from(["C", "F", "reversed", "strided", "transposed", "read-only", "unaligned"]))
    if layout == "F":
        a = np.asfortranarray(a)
    elif layout == "reversed" and a.ndim:
        a = a[(slice(None, None, -1),) * a.ndim]
    elif layout == "strided" and a.ndim:
        big = np.repeat(a, 2, axis=-1)
        a = big[..., ::2]
    elif layout == "transposed" and a.ndim >= 2:
        a = np.ascontiguousarray(np.swapaxes(a, -1, -2)).swapaxes(-1, -2)
    elif layout == "read-only":
        a = read_only(a)
    elif layout == "unaligned" and dtype.kind not in "OU" and a.size and dtype.itemsize > 1:
        a = unaligned(np.ascontiguousarray(a))
    return a


@pytest.mark.parametrize("target", TARGETS, ids=str)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=arguments())
def test_never_crashes(target: Target, a: np.ndarray) -> None:
    """Any array gives a result or one of the documented exceptions, and is left unchanged
    (1000 examples for expm in test_expm_outcome_is_the_documented_one, 200 per target here)."""
    before = snapshot(a)
    try:
        target.call(a)
    except ALLOWED_EXCEPTIONS:
        pass
    assert snapshot(a) == before


def expm_rule(a: np.ndarray) -> Any:
    """What linflow.expm documents for ``a``: the exception type, or the result's shape and dtype."""
    if a.dtype.kind not in "biufc" or a.dtype in (np.longdouble, np.clongdouble):
        return TypeError
    shape = a.shape if a.ndim >= 2 else (1, 1)
    if a.ndim < 2 and a.size != 1 or shape[-1] != shape[-2]:
        return np.linalg.LinAlgError
    computed = {"b": np.float64, "i": np.float64, "u": np.float64}.get(a.dtype.kind)
    if computed is None:
        computed = np.float32 if a.dtype.itemsize == 2 else a.dtype.newbyteorder("=")
    values = a.astype(computed)
    if not np.all(np.isfinite(values)):
        return ValueError
    return shape, np.dtype(computed), values.reshape(shape)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=arguments())
def test_expm_outcome_is_the_documented_one(a: np.ndarray) -> None:
    """The exception or the result of linflow.expm is the one its docstring gives, for any array:
    the result is the stack of the results of its matrices (bit for bit, in any layout), and
    finite wherever ``||A||_1`` is too small for exp(A) to overflow."""
    rule = expm_rule(a)
    if isinstance(rule, type):
        with pytest.raises(rule):
            linflow.expm(a)
        return
    shape, dtype, values = rule
    got = linflow.expm(a)
    assert got.shape == shape and got.dtype == dtype
    flat_values = values.reshape(int(np.prod(shape[:-2])), shape[-1], shape[-1])
    flat_got = got.reshape(flat_values.shape)
    limit = 700.0 if dtype in (np.float64, np.complex128) else 80.0
    for k in range(min(len(flat_values), 4)):
        bit_equal(flat_got[k], linflow.expm(np.ascontiguousarray(flat_values[k])))
        if flat_values[k].size and np.abs(flat_values[k].astype(np.complex128)).sum(axis=0).max() <= limit:
            assert np.all(np.isfinite(flat_got[k])), (flat_values[k], flat_got[k])


# ------------------------------------------------------------------ the table in tests/README.md


def describe(target: Target, case: Case) -> str:
    """The outcome of ``case`` for ``target``, in words, for the README table."""
    if case.batch and not target.batched:
        return "n/a"
    outcome = target.outcomes.get(case.id, case.expect)
    if case.id in ("scalar", "0-d-array", "1-D-one-element") and not target.scalar_ok and case.id not in target.outcomes:
        outcome = SHAPE
    if isinstance(outcome, Same):
        return "same as a plain C-order array, bit for bit"
    if isinstance(outcome, Converted):
        return f"computed in {np.dtype(outcome.dtype).name}"
    if isinstance(outcome, Raises):
        exc = target.shape_error if outcome.exc == "shape" else outcome.exc
        return f"`{exc.__name__}`"
    if isinstance(outcome, Shape):
        shape = "the input's shape" if outcome.shape is None else f"shape {outcome.shape}"
        return f"{shape}, {np.dtype(outcome.dtype).name}"
    if isinstance(outcome, Bug):
        return f"**defect**: {outcome.what}"
    if isinstance(outcome, Finite):
        return "a finite result (the exact one is representable)"
    return "a result: inf or NaN where exp(A) overflows"


def readme_table() -> str:
    """The case table of tests/README.md (print it with ``python tests/test_bad_input.py``)."""
    head = "| case | input | " + " | ".join(f"`{t.name}`" for t in TARGETS) + " |"
    rule = "|---|---|" + "---|" * len(TARGETS)
    rows = [f"| `{c.id}` | {c.what} | " + " | ".join(describe(t, c) for t in TARGETS) + " |" for c in CASES]
    return "\n".join([head, rule, *rows])


def test_readme_table_is_current():
    readme = (Path(__file__).parent / "README.md").read_text()
    assert readme_table() in readme, "regenerate it: python tests/test_bad_input.py"


if __name__ == "__main__":
    print(readme_table())
