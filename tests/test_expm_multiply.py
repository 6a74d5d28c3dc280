"""linflow.expm_multiply against expm(t A) @ B for dense, sparse and operator inputs.

References: linflow.expm of the dense matrix (accurate to ~1e-15, DESIGN.md), mpmath where a
test wants an independent 50-digit answer, and closed forms.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg
from conftest import DTYPES, eps, mp_expm

import linflow


def reference(a, b, t):
    """expm(t A) @ B in complex128 from linflow.expm of the dense matrix."""
    a = a.toarray() if scipy.sparse.issparse(a) else np.asarray(a)
    return linflow.expm(t * a.astype(np.complex128)) @ np.asarray(b, dtype=np.complex128)


def norm1(a):
    a = a.toarray() if scipy.sparse.issparse(a) else np.asarray(a)
    return float(np.abs(a).sum(axis=0).max()) if a.size else 0.0


def rel(x, ref):
    """max |x - ref| / max |ref| (the scale of the whole block)."""
    x, ref = np.asarray(x, dtype=np.complex128), np.asarray(ref, dtype=np.complex128)
    return float(np.abs(x - ref).max() / np.abs(ref).max())


def allowed(dtype, a, t):
    """A modest multiple of eps max(1, |t| ||A||_1), the conditioning of exp(tA) at these sizes."""
    return 16 * eps(dtype) * max(1.0, abs(t) * norm1(a))


def inverse_random(rng, n):
    """scipy's test matrices: inverses of standard normal matrices (norms of a few units)."""
    return np.linalg.inv(rng.standard_normal((n, n)))


def estimated():
    return pytest.warns(UserWarning, match="Trace of LinearOperator not available")


# ---------------------------------------------------------------- single time


def test_dense_matrix_and_vector():
    rng = np.random.default_rng(1234)
    for _ in range(10):
        a = inverse_random(rng, 40)
        b = rng.standard_normal((40, 3))
        v = rng.standard_normal(40)
        x = linflow.expm_multiply(a, b)
        assert x.shape == (40, 3) and rel(x, reference(a, b, 1.0)) <= allowed(np.float64, a, 1.0)
        y = linflow.expm_multiply(a, v)
        assert y.shape == (40,) and rel(y, reference(a, v, 1.0)) <= allowed(np.float64, a, 1.0)


def test_linear_operator_with_and_without_trace():
    rng = np.random.default_rng(4321)
    a = inverse_random(rng, 40)
    b = rng.standard_normal((40, 3))
    op = scipy.sparse.linalg.aslinearoperator(a)
    want = reference(a, b, 1.0)
    with estimated():
        x = linflow.expm_multiply(op, b)
    assert rel(x, want) <= allowed(np.float64, a, 1.0)
    for trace in (np.trace(a), 5 * np.trace(a), 100.0):  # a wrong trace is fine
        x = linflow.expm_multiply(op, b, traceA=trace)
        assert rel(x, want) <= allowed(np.float64, a, 1.0)


def test_operator_through_matvec_only():
    # A LinearOperator defined by matvec and rmatvec alone (matmat falls back to columns).
    rng = np.random.default_rng(5)
    a = rng.standard_normal((30, 30)) / 4
    op = scipy.sparse.linalg.LinearOperator(
        a.shape, matvec=lambda v: a @ v, rmatvec=lambda v: a.T @ v, dtype=np.float64
    )
    b = rng.standard_normal(30)
    x = linflow.expm_multiply(op, b, traceA=np.trace(a))
    assert rel(x, reference(a, b, 1.0)) <= allowed(np.float64, a, 1.0)


SPARSE_FORMATS = ["csr", "csc", "coo", "dia", "lil", "bsr", "dok"]


@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
@pytest.mark.parametrize("cls", ["array", "matrix"])
def test_sparse_formats(fmt, cls):
    rng = np.random.default_rng(99)
    dense = scipy.sparse.random_array((40, 40), density=0.05, rng=rng).toarray()
    dense += np.diag(rng.standard_normal(40))
    make = scipy.sparse.csr_array if cls == "array" else scipy.sparse.csr_matrix
    a = make(dense).asformat(fmt)
    b = rng.standard_normal((40, 2))
    x = linflow.expm_multiply(a, b)
    assert isinstance(x, np.ndarray) and x.shape == (40, 2)
    assert rel(x, reference(dense, b, 1.0)) <= allowed(np.float64, dense, 1.0)


def test_banded_matrices_run_by_diagonals():
    # A tridiagonal CSR matrix (converted to diagonals internally), its DIA form (read in
    # place), a variable-coefficient band and a band of one stored diagonal short of full.
    n = 300
    rng = np.random.default_rng(8)
    lap = scipy.sparse.diags_array([np.ones(n - 1), -2 * np.ones(n), np.ones(n - 1)], offsets=[-1, 0, 1])
    var = scipy.sparse.diags_array(
        [rng.random(n - 2), rng.random(n - 1), -3 - rng.random(n), rng.random(n - 1), rng.random(n - 3)],
        offsets=[-2, -1, 0, 1, 3],
    )
    b = rng.standard_normal((n, 2))
    for a in (lap * 50, var * 10):
        want = reference(a, b, 0.3)
        for fmt in ("csr", "dia", "csc"):
            x = linflow.expm_multiply(a.asformat(fmt) * 0.3, b)
            assert rel(x, want) <= allowed(np.float64, a, 0.3), fmt
        xv = linflow.expm_multiply(a.tocsr() * 0.3, b[:, 0])
        assert rel(xv, want[:, 0]) <= allowed(np.float64, a, 0.3)


def test_complex_closed_form():
    a = np.array([[1j, 1j], [0, 1j]])
    b = np.array([1j, 1j])
    want = np.array([1j * np.exp(1j) + 1j * (1j * np.cos(1) - np.sin(1)), 1j * np.exp(1j)])
    assert rel(linflow.expm_multiply(a, b), want) <= 4 * eps(np.float64)
    with estimated():
        x = linflow.expm_multiply(scipy.sparse.linalg.aslinearoperator(a), b)
    assert rel(x, want) <= 4 * eps(np.float64)


def test_against_mpmath():
    rng = np.random.default_rng(17)
    a = rng.standard_normal((5, 5))
    b = rng.standard_normal(5)
    want = mp_expm(2.5 * a) @ b
    assert rel(linflow.expm_multiply(2.5 * a, b), want) <= allowed(np.float64, a, 2.5)


def test_zero_and_trivial_inputs():
    b = np.array([1.0, -2.0])
    np.testing.assert_array_equal(linflow.expm_multiply(np.zeros((2, 2)), b), b)
    x = linflow.expm_multiply(np.zeros((0, 0)), np.zeros(0))
    assert x.shape == (0,)
    x = linflow.expm_multiply(np.eye(3), np.zeros((3, 0)))
    assert x.shape == (3, 0)
    x = linflow.expm_multiply(np.array([[-0.5]]), np.array([2.0]), start=0, stop=3, num=4)
    np.testing.assert_allclose(x[:, 0], 2 * np.exp(-0.5 * np.arange(4)), rtol=4 * eps(np.float64))


# ---------------------------------------------------------------- time grids


def check_grid(a, b, start, stop, num, endpoint=True, dense=None, **kwargs):
    """expm_multiply on a grid against per-point references (`dense`: A as an array, for
    operators)."""
    x = linflow.expm_multiply(a, b, start=start, stop=stop, num=num, endpoint=endpoint, **kwargs)
    times = np.linspace(start, stop, num=num, endpoint=endpoint)
    assert x.shape == (num, *np.shape(b))
    if dense is None:
        dense = a.toarray() if scipy.sparse.issparse(a) else np.asarray(a)
    # The earliest time (the first point, or the last of a decreasing grid, which is computed
    # as the increasing one) is as accurate as a single-time call by the Taylor steps (CSR: a
    # dense A at a single time may be exponentiated instead): for oscillatory A with a large
    # |t| ||A|| that is limited by the cancellation in the Taylor sums (~1e-12 at
    # t ||A|| = 200). The other points are stepped forward from it: its error reaches t_k
    # amplified by at most cond(expm((t_k - t_anchor) A)).
    anchor = times[0] if len(times) < 2 or times[1] >= times[0] else times[-1]
    taylor = scipy.sparse.csr_array(anchor * dense)
    single = rel(linflow.expm_multiply(taylor, b), reference(dense, b, anchor))
    for k, t in enumerate(times):
        step = linflow.expm((t - anchor) * dense)
        back = linflow.expm((anchor - t) * dense)
        cond = norm1(step) * norm1(back)
        base = max(allowed(np.float64, dense, max(abs(t), abs(anchor))), 4 * single)
        assert rel(x[k], reference(dense, b, t)) <= base * cond, (k, t)
    return x


@pytest.mark.parametrize("num", [2, 13, 14])
@pytest.mark.parametrize("endpoint", [True, False])
def test_intervals(num, endpoint):
    rng = np.random.default_rng(num)
    for n in (1, 2, 5, 20):
        a = inverse_random(rng, n)
        check_grid(a, rng.standard_normal(n), 0.1, 3.2, num, endpoint)
        check_grid(a, rng.standard_normal((n, 2)), 0.1, 3.2, num, endpoint)


def test_interval_shapes_and_defaults():
    a = np.array([[0.0, 1.0], [-1.0, 0.0]])
    x = linflow.expm_multiply(a, np.array([1.0, 0.0]), start=0.0, stop=1.0)
    assert x.shape == (50, 2)  # numpy.linspace's default num
    np.testing.assert_allclose(x[-1], [np.cos(1.0), -np.sin(1.0)], atol=4e-16)
    x = linflow.expm_multiply(a, np.eye(2), start=0.0, stop=np.pi, num=5, endpoint=False)
    assert x.shape == (5, 2, 2)
    np.testing.assert_allclose(x[4], linflow.expm(0.8 * np.pi * a), atol=1e-15)


def test_sparse_intervals():
    rng = np.random.default_rng(1234)
    for num in (14, 13, 2):
        a = scipy.sparse.random_array((40, 40), density=0.05, rng=rng)
        check_grid(a, rng.standard_normal((40, 3)), 0.1, 3.2, num)
        check_grid(a, rng.standard_normal(40), 0.1, 3.2, num)


def test_many_points_share_taylor_vectors_and_few_points_step():
    # Grids finer and coarser than the scaling steps of the interval (Algorithm 5.2's cases).
    rng = np.random.default_rng(3)
    a = rng.standard_normal((6, 6))
    check_grid(a, rng.standard_normal(6), 0.0, 1.0, 300)
    check_grid(a * 30, rng.standard_normal(6), 0.0, 1.0, 4)
    check_grid(a, rng.standard_normal((6, 2)), 0.0, 2.0, 37, endpoint=False)


def test_reversed_interval():
    # scipy issue 16375: stop < start took ||tA|| = t ||A|| < 0 and returned garbage.
    rng = np.random.default_rng(16375)
    a = rng.standard_normal((8, 8)) / 2
    check_grid(a, rng.standard_normal(8), 3.0, -1.0, 9)
    check_grid(a, rng.standard_normal((8, 2)), 0.0, -5.0, 40)
    check_grid(a * 10, rng.standard_normal(8), 1.0, 0.0, 3)


def test_reversed_grid_is_the_forward_grid_reordered():
    # A diffusion operator backwards in time would amplify rounding errors enormously; the
    # decreasing grid gives the increasing grid's values, to the rounding of the times.
    n = 200
    lap = scipy.sparse.diags_array([np.ones(n - 1), -2 * np.ones(n), np.ones(n - 1)], offsets=[-1, 0, 1])
    u0 = np.exp(-(((np.arange(n) - n / 2) / 10.0) ** 2))
    fwd = linflow.expm_multiply(lap, u0, start=0.0, stop=20.0, num=11)
    back = linflow.expm_multiply(lap, u0, start=20.0, stop=0.0, num=11)
    assert rel(back[::-1], fwd) <= 1e-14
    check_grid(lap, u0, 20.0, 0.0, 11)


def test_interval_far_from_zero():
    # scipy issue 16311: the first point reused the interval's (m, s); start far from 0 lost
    # accuracy. The 9 x 9 traceless example of the issue, on [10, 20] and [100, 101].
    a = np.zeros((9, 9), dtype=complex)
    for i, j, v in [(1, 1, -1j), (1, 4, -1j), (2, 2, -1j), (2, 5, -1j), (4, 1, -1j), (4, 7, -1j),
                    (5, 2, -1j), (5, 8, -1j), (7, 4, -1j), (7, 7, 1j), (8, 5, -1j), (8, 8, 1j)]:
        a[i, j] = v
    b = np.eye(9)
    check_grid(a, b, 10.0, 20.0, 11)
    check_grid(a, b, 100.0, 101.0, 5)
    rng = np.random.default_rng(2)
    check_grid(rng.standard_normal((5, 5)) / 3, rng.standard_normal(5), -40.0, -38.0, 21)


def test_trace_estimate_on_intervals():
    rng = np.random.default_rng(1234)
    for n in (1, 2, 5, 20, 40):
        a = inverse_random(rng, n)
        v = rng.standard_normal(n)
        op = scipy.sparse.linalg.aslinearoperator(a)
        with estimated():
            check_grid(op, v, 0.1, 3.2, 13, dense=a)
        check_grid(op, v, 0.1, 3.2, 13, dense=a, traceA=np.trace(a))
        check_grid(op, v, 0.1, 3.2, 13, dense=a, traceA=5 * np.trace(a))


# ---------------------------------------------------------------- dtypes


ALL_DTYPES = DTYPES + [np.int64, np.int32, bool, np.float16]


def dtype_id(d):
    return np.dtype(d).name


@pytest.mark.parametrize("dtype_a", ALL_DTYPES, ids=dtype_id)
@pytest.mark.parametrize("dtype_b", ALL_DTYPES, ids=dtype_id)
@pytest.mark.parametrize("b_is_matrix", [False, True], ids=["vector", "matrix"])
def test_every_dtype_pair(dtype_a, dtype_b, b_is_matrix):
    rng = np.random.default_rng(1234)
    n = 7
    if np.dtype(dtype_a).kind == "c":
        a = np.linalg.inv(rng.random((n, n)) + 1j * rng.random((n, n)))
    else:
        a = np.linalg.inv(rng.random((n, n)))
    a = (np.round(a) if np.dtype(dtype_a).kind in "biu" else a).astype(dtype_a)
    shape = (n, 3) if b_is_matrix else (n,)
    b = (2 * rng.random(shape)) if np.dtype(dtype_b).kind != "c" else rng.random(shape) + 1j * rng.random(shape)
    b = (np.round(b) if np.dtype(dtype_b).kind in "biu" else b).astype(dtype_b)
    want_dtype = np.result_type(a.dtype, b.dtype)
    want_dtype = {"b": np.dtype(np.float64), "i": np.dtype(np.float64)}.get(want_dtype.kind, want_dtype)
    want_dtype = np.dtype(np.float32) if want_dtype == np.float16 else want_dtype
    exact = np.asarray(a, dtype=np.complex128)
    x = linflow.expm_multiply(a, b)
    assert x.dtype == want_dtype and x.shape == shape
    assert rel(x, reference(exact, b, 1.0)) <= allowed(want_dtype, exact, 1.0)
    op = scipy.sparse.linalg.aslinearoperator(a)
    x = linflow.expm_multiply(op, b, traceA=np.trace(a))
    assert x.dtype == want_dtype
    assert rel(x, reference(exact, b, 1.0)) <= allowed(want_dtype, exact, 1.0)
    sparse = scipy.sparse.csr_array(a) if a.dtype != np.float16 else a  # scipy.sparse has no float16
    xs = linflow.expm_multiply(sparse, b, start=0.1, stop=3.2, num=13)
    assert xs.dtype == want_dtype and xs.shape == (13, *shape)
    for k, t in enumerate(np.linspace(0.1, 3.2, 13)):
        assert rel(xs[k], reference(exact, b, t)) <= 13 * allowed(want_dtype, exact, t)


def test_sparse_b_becomes_dense():
    a = scipy.sparse.diags_array(np.arange(5.0), format="csr")
    bi = scipy.sparse.csr_array(np.eye(5))
    x = linflow.expm_multiply(a, bi, 0, 1)
    assert isinstance(x, np.ndarray) and x.shape == (50, 5, 5)
    assert rel(x[-1], np.diag(np.exp(np.arange(5.0)))) <= allowed(np.float64, a, 1.0)


# ---------------------------------------------------------------- errors and inputs


@pytest.mark.parametrize(
    "a, b, kwargs, exc, match",
    [
        (np.ones((2, 3)), np.ones(3), {}, ValueError, "square"),
        (np.eye(3), np.ones((3, 2, 2)), {}, ValueError, "matrix or a vector"),
        (np.eye(3), np.ones(4), {}, ValueError, "incompatible"),
        (np.eye(3), 1.0, {}, ValueError, "matrix or a vector"),
        (np.eye(3), np.ones(3), {"start": 0, "stop": 1, "num": 1}, ValueError, "two time points"),
        (np.eye(3), np.ones(3), {"stop": 1.0}, TypeError, None),
        (np.eye(3), np.array([1.0, np.nan, 0.0]), {}, ValueError, "infs or NaNs"),
        (np.diag([1.0, np.inf, 0.0]), np.ones(3), {}, ValueError, "infs or NaNs"),
        (np.eye(3), np.ones(3), {"start": 0, "stop": np.inf, "num": 3}, ValueError, "infs or NaNs"),
        (np.eye(3), np.ones(3, dtype=object), {}, TypeError, "dtype"),
        (np.eye(3, dtype=np.longdouble), np.ones(3), {}, TypeError, "dtype"),
    ],
)
def test_errors(a, b, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        linflow.expm_multiply(a, b, **kwargs)


def test_operator_exceptions_propagate():
    def fail(v):
        raise ZeroDivisionError("inside matvec")

    op = scipy.sparse.linalg.LinearOperator((4, 4), matvec=fail, rmatvec=fail, dtype=np.float64)
    with pytest.raises(ZeroDivisionError, match="inside matvec"):
        linflow.expm_multiply(op, np.ones(4), traceA=0.0)
    # Without rmatvec the 1-norm estimate is impossible: scipy's own error when asked for the
    # adjoint (a TypeError in scipy 1.17) comes through, as it does from scipy's expm_multiply.
    a = np.random.default_rng(0).standard_normal((20, 20))
    op = scipy.sparse.linalg.LinearOperator((20, 20), matvec=lambda v: a @ v, dtype=np.float64)
    with pytest.raises((TypeError, NotImplementedError)):
        linflow.expm_multiply(op, np.ones(20), traceA=0.0)


def test_inputs_are_not_modified():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((10, 10))
    b = rng.standard_normal((10, 2))
    sp = scipy.sparse.csr_array(a)
    copies = (a.copy(), b.copy(), sp.data.copy(), sp.indices.copy(), sp.indptr.copy())
    for arr in (a, b, sp.data, sp.indices, sp.indptr):
        arr.flags.writeable = False
    linflow.expm_multiply(a, b, start=0, stop=2, num=5)
    linflow.expm_multiply(sp, b)
    for before, after in zip(copies, (a, b, sp.data, sp.indices, sp.indptr)):
        np.testing.assert_array_equal(before, after)


def test_no_warning_for_matrices():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        linflow.expm_multiply(np.eye(3), np.ones(3))
        linflow.expm_multiply(scipy.sparse.eye_array(3, format="csr"), np.ones(3))


# ---------------------------------------------------------------- overflow (issue 7)
#
# Once an entry of the state overflows, 0 * inf in a dense product made every other entry NaN
# (scipy: all NaN), and the truncation test relative to an infinite norm cut the other Taylor
# sums after one term. A result that overflowed is now recomputed with products that skip the
# exact zeros of A - mu I and full Taylor sums: inf exactly where exp(tA) B overflows, the
# exact values elsewhere. Reference: diagonal A, exp(t d_i) b_i.

OVERFLOW_DIAGONALS = [
    [1e3, -1e3, 0.0],  # exact [inf, 0 (e^-1000 underflows), 1]
    [800.0, -3.0, 0.5, 2.0],
    [1e3, 1e3, -2.0],
    [-1e3, 710.0, 0.0],
]


def make(a, kind):
    return {"dense": np.asarray, "csr": scipy.sparse.csr_array, "dia": scipy.sparse.dia_array, "csc": scipy.sparse.csc_array}[kind](a)


def exact_diagonal(d, b, t):
    with np.errstate(over="ignore", under="ignore"):
        return np.exp(t * np.asarray(d)) * b


def check_entrywise(got, want, rtol):
    """inf where exact overflows, 0 (to 1e-300) where it underflows, else within rtol of the
    largest finite entry (the Taylor sums are accurate in norm)."""
    want = np.asarray(want)
    finite = np.isfinite(want)
    assert np.array_equal(got[~finite], want[~finite]), (got, want)
    scale = np.abs(want[finite]).max()
    under = finite & (want == 0)
    assert np.all(np.abs(got[under]) <= 1e-300), (got, want)
    assert np.all(np.abs(got[finite] - want[finite]) <= rtol * scale), (got, want)


@pytest.mark.parametrize("kind", ["dense", "csr", "dia", "csc"])
@pytest.mark.parametrize("d", OVERFLOW_DIAGONALS, ids=str)
def test_overflowing_state_gives_inf_never_nan(d, kind):
    b = np.linspace(1.0, 2.0, len(d))
    got = linflow.expm_multiply(make(np.diag(d), kind), b)
    assert not np.any(np.isnan(got)), got
    # exp at ||tA||_1 = 1e3 has relative condition number 1e3: a few dozen roundings of that size.
    check_entrywise(got, exact_diagonal(d, b, 1.0), 50 * 1e3 * eps(np.float64))


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("start, stop", [(0.0, 1.0), (1.0, -0.5), (0.9, 1.0)])
def test_overflowing_state_on_grids(kind, start, stop):
    d = [1e3, -1e3, 0.5]
    b = np.array([1.0, 1.0, 2.0])
    got = linflow.expm_multiply(make(np.diag(d), kind), b, start=start, stop=stop, num=5)
    assert not np.any(np.isnan(got)), got
    for t, row in zip(np.linspace(start, stop, 5), got, strict=True):
        check_entrywise(row, exact_diagonal(d, b, t), 50 * 1e3 * eps(np.float64))


def test_overflow_where_scipy_is_right():
    # A dense positive A: exp(A) b overflows in every entry, inf in scipy and in linflow.
    a = np.array([[1000.0, 1.0], [1.0, 1000.0]])
    with np.errstate(all="ignore"):
        ref = scipy.sparse.linalg.expm_multiply(a, np.ones(2))
    assert np.all(np.isinf(ref))
    np.testing.assert_array_equal(linflow.expm_multiply(a, np.ones(2)), ref)
    # Just below overflow scipy is right (in norm, as the algorithm guarantees): the same values.
    a = np.array([[700.0, 1.0], [0.0, -3.0]])
    got = linflow.expm_multiply(a, np.ones(2))
    assert np.all(np.isfinite(got))
    assert rel(got, scipy.sparse.linalg.expm_multiply(a, np.ones(2))) <= allowed(np.float64, a, 1.0)


def test_huge_shift_is_applied_in_pieces():
    # A = 1000 I: exp(A) b = e^1000 b is finite for b = 1e-300 though e^1000 overflows, and
    # e^-1000 b finite for b = 1e300 though e^-1000 underflows.
    for c, x in [(1e3, 1e-300), (-1e3, 1e300)]:
        got = linflow.expm_multiply(c * np.eye(2), np.array([x, 0.0]))
        want = np.exp(c + np.log(x))
        assert got[0] == pytest.approx(want, rel=1e-12)
        assert got[1] == 0.0


@pytest.mark.parametrize("kind", ["csr", "dia"])
def test_norms_that_overflow_are_too_many_steps(kind):
    # ||A^p||_1 overflows; the NaN of 0 * inf in the powers was dropped, the step count came out
    # as 1 and the result [inf, inf, 1] (exact [inf, 0, 1]). 1e307 Taylor steps: ValueError.
    with pytest.raises(ValueError, match="too large for Taylor steps"):
        linflow.expm_multiply(make(np.diag([1e308, -1e308, 0.0]), kind), np.ones(3))


def test_dense_diagonal_is_exact_at_any_norm():
    # A dense diagonal A is exponentiated exactly: e^(t a_ii) b_i, inf exactly where it
    # overflows, 0 for a zero b_i (not inf * 0). The Taylor steps would be 1e307 (above) or
    # leave e^-1000 as a subnormal residue.
    got = linflow.expm_multiply(np.diag([1e308, -1e308, 0.0]), np.ones(3))
    np.testing.assert_array_equal(got, [np.inf, 0.0, 1.0])
    got = linflow.expm_multiply(np.diag([1e3, -1e3, 0.0]), np.array([1.0, 1.0, 0.0]))
    np.testing.assert_array_equal(got, [np.inf, 0.0, 0.0])
    got = linflow.expm_multiply(np.diag([-2.0, 0.5]), np.array([[1.0, 0.0], [3.0, -1.0]]), start=0, stop=1, num=3)
    want = np.array([np.exp(np.array([-2.0, 0.5]) * t)[:, None] * [[1.0, 0.0], [3.0, -1.0]] for t in (0, 0.5, 1)])
    np.testing.assert_allclose(got, want, rtol=4 * eps(np.float64), atol=0)


def test_float32_overflow():
    d = np.array([100.0, -100.0, 0.0], dtype=np.float32)
    got = linflow.expm_multiply(np.diag(d), np.ones(3, dtype=np.float32))
    assert got.dtype == np.float32
    assert got[0] == np.inf and abs(got[1]) <= 1e-38 and got[2] == pytest.approx(1.0, rel=50 * 100 * eps(np.float32))
