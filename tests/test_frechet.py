"""linflow.expm_frechet against the block-enlargement identity, closed forms and scipy's behaviour.

The reference throughout is the identity expm([[A, E], [0, A]]) = [[expm(A), L(A, E)], [0, expm(A)]]
(Higham 2008, Theorem 3.6), evaluated by mpmath at 50 digits for small matrices and by
scipy.sparse.linalg.expm (Al-Mohy & Higham's algorithm, accurate to ~1e-15 here, where
scipy.linalg.expm errs by up to 1e-13: DESIGN.md) for larger ones, or a closed form.
"""

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse.linalg
from conftest import DTYPES, eps, mp_expm, rel_err
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import linflow

PAIR_A = np.array([[1.0, 2.0], [5.0, 6.0]])
PAIR_E = np.array([[3.0, 4.0], [7.0, 8.0]])

# Al-Mohy & Higham (2009), Table 6.1: the 1-norm thresholds ell_m of the Pade orders in double.
ELL = {1: 2.11e-8, 3: 1.08e-2, 5: 2.00e-1, 7: 7.83e-1, 9: 1.78, 11: 3.13, 13: 4.74, 15: 6.56}


def block_reference(a, e):
    """(expm(A), L(A, E)) from expm of the 2n x 2n block matrix: mpmath for n <= 3, else
    scipy.sparse.linalg.expm in double precision."""
    a = np.asarray(a, dtype=np.result_type(a, e, np.float64))
    e = np.asarray(e, dtype=a.dtype)
    n = a.shape[-1]
    big = np.block([[a, e], [np.zeros_like(a), a]])
    x = mp_expm(big) if n <= 3 else scipy.sparse.linalg.expm(big)
    return x[:n, :n], x[:n, n:]


def tolerance(dtype, a):
    """A few eps times the 1-norm of A (the conditioning of exp at these modest norms)."""
    return 64 * eps(dtype) * max(1.0, np.abs(np.asarray(a, dtype=np.complex128)).sum(axis=0).max())


@pytest.mark.parametrize("method", [None, "SPS", "blockEnlarge"])
def test_block_enlargement_reference(dtype, method):
    a, e = PAIR_A.astype(dtype), PAIR_E.astype(dtype)
    x, l = linflow.expm_frechet(a, e, method=method)
    want_x, want_l = block_reference(PAIR_A, PAIR_E)
    assert x.dtype == l.dtype == dtype
    assert rel_err(x, want_x) <= tolerance(dtype, a)
    assert rel_err(l, want_l) <= tolerance(dtype, a)


@pytest.mark.parametrize("lo, hi", list(zip(sorted(ELL)[:-1], sorted(ELL)[1:])))
def test_norms_between_each_pair_of_thresholds(dtype, lo, hi):
    # Every Pade order and the scaled branch: ||A||_1 halfway between consecutive thresholds.
    scale = 0.5 * (ELL[lo] + ELL[hi]) / np.abs(PAIR_A).sum(axis=0).max()
    a, e = scale * PAIR_A, scale * PAIR_E
    x, l = linflow.expm_frechet(a.astype(dtype), e.astype(dtype))
    want_x, want_l = block_reference(a, e)
    assert rel_err(x, want_x) <= tolerance(dtype, a)
    assert rel_err(l, want_l) <= tolerance(dtype, a)


def test_fuzz_against_block_enlargement():
    rng = np.random.default_rng(20240611)
    makers = (rng.uniform, rng.normal, rng.standard_cauchy, rng.exponential)
    for _ in range(100):
        make = makers[rng.integers(4)]
        n = int(rng.integers(2, 16))
        a0, e0 = make(size=(n, n)), make(size=(n, n))
        scale = rng.exponential() / np.abs(a0).sum(axis=0).max()
        a, e = scale * a0, scale * e0
        x, l = linflow.expm_frechet(a, e)
        want_x, want_l = block_reference(a, e)
        assert rel_err(x, want_x) <= 1e-13
        assert rel_err(l, want_l) <= 1e-13


def test_cached_workspace_across_sizes_orders_dtypes_and_layouts():
    # Calls on one thread reuse one cached workspace: interleave sizes, every Pade order and the
    # scaled branch, three dtypes and the memory layouts BLAS reads in place (C, Fortran) or not
    # (strided and reversed views), and check every result against the block reference.
    rng = np.random.default_rng(20240612)
    layouts = (
        lambda m: m,
        np.asfortranarray,
        lambda m: np.repeat(np.repeat(m, 2, axis=0), 2, axis=1)[::2, ::2],
        lambda m: np.ascontiguousarray(m[::-1, ::-1])[::-1, ::-1],
    )
    k = 0
    for n in (7, 4, 12, 7):
        for norm in (0.5 * ELL[3], 0.1, 0.5, 1.5, 4.0, 40.0):
            for dtype in (np.float64, np.complex128, np.float32):
                a0 = rng.standard_normal((n, n))
                e0 = rng.standard_normal((n, n))
                if dtype == np.complex128:
                    a0 = a0 + 1j * rng.standard_normal((n, n))
                a = (norm / np.abs(a0).sum(axis=0).max() * a0).astype(dtype)
                e = e0.astype(dtype)
                la, le = layouts[k % 4], layouts[(k + 1) % 4]
                k += 1
                x, l = linflow.expm_frechet(la(a), le(e))
                want_x, want_l = block_reference(a, e)
                assert rel_err(x, want_x) <= tolerance(dtype, a)
                assert rel_err(l, want_l) <= tolerance(dtype, a)


def test_problematic_matrix():
    # The matrix that once broke scipy's SPS branch: both methods agree.
    a = np.array([[1.50591997, 1.93537998], [0.41203263, 0.23443516]])
    e = np.array([[1.87864034, 2.07055038], [1.34102727, 0.67341123]])
    x1, l1 = linflow.expm_frechet(a, e, method="SPS")
    x2, l2 = linflow.expm_frechet(a, e, method="blockEnlarge")
    assert rel_err(x1, x2) <= 1e-14 and rel_err(l1, l2) <= 1e-14


def divided_differences(d):
    """f[d_i, d_j] of exp: (e^a - e^b) / (a - b), e^a on the diagonal."""
    a, b = np.meshgrid(d, d, indexing="ij")
    with np.errstate(invalid="ignore", divide="ignore"):
        dd = np.exp(b) * np.expm1(a - b) / (a - b)
    return np.where(a == b, np.exp(a), dd)


def test_diagonal_closed_form(dtype):
    # L(D, E) = E * f[d_i, d_j] for diagonal D (Higham 2008, Theorem 3.11).
    d = np.array([-3.0, -0.5, 0.25, 0.25 + 1e-9, 2.0])
    e = np.random.default_rng(3).standard_normal((5, 5))
    want = e * divided_differences(d)
    _, l = linflow.expm_frechet(np.diag(d).astype(dtype), e.astype(dtype))
    assert rel_err(l, want) <= 32 * eps(dtype)


def test_commuting_directions():
    a = np.random.default_rng(5).standard_normal((6, 6))
    x = linflow.expm(a)
    assert rel_err(linflow.expm_frechet(a, a, compute_expm=False), a @ x) <= 1e-14
    assert rel_err(linflow.expm_frechet(a, np.eye(6), compute_expm=False), x) <= 1e-14


@pytest.mark.parametrize("da", DTYPES + [np.int64, np.float16, bool], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("de", DTYPES + [np.int64], ids=lambda d: np.dtype(d).name)
def test_every_dtype_pair(da, de):
    a, e = PAIR_A.astype(da) if da is not bool else PAIR_A > 3, PAIR_E.astype(de)
    x, l = linflow.expm_frechet(a, e)
    want = np.result_type(a.dtype, e.dtype)
    want = {"b": np.float64, "i": np.float64, "u": np.float64}.get(want.kind, want)
    want = np.float32 if want == np.float16 else want
    assert l.dtype == want and x.dtype == want
    a64 = a.astype(np.complex128)
    want_x, want_l = block_reference(a64, e.astype(np.complex128))
    assert rel_err(l, want_l) <= tolerance(want, a64)
    assert rel_err(x, want_x) <= tolerance(want, a64)


def test_batches_broadcast_like_scipy():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((2, 3, 4, 4))
    e = rng.standard_normal((3, 4, 4))
    x, l = linflow.expm_frechet(a, e)
    assert x.shape == l.shape == (2, 3, 4, 4)
    sx, sl = scipy.linalg.expm_frechet(a, e)
    assert rel_err(np.asarray(sx), x) <= 1e-13 and rel_err(np.asarray(sl), l) <= 1e-13
    for i in range(2):
        for j in range(3):
            xi, li = linflow.expm_frechet(a[i, j], e[j])
            np.testing.assert_array_equal(l[i, j], li)
            np.testing.assert_array_equal(x[i, j], xi)
    l2 = linflow.expm_frechet(a[0, 0], e, method="blockEnlarge", compute_expm=False)
    assert l2.shape == (3, 4, 4)
    for j in range(3):
        assert rel_err(l2[j], linflow.expm_frechet(a[0, 0], e[j])[1]) <= 1e-13


def test_float32_stays_single_and_accurate():
    rng = np.random.default_rng(11)
    a = rng.standard_normal((8, 8)).astype(np.float32)
    e = rng.standard_normal((8, 8)).astype(np.float32)
    x, l = linflow.expm_frechet(a, e)
    assert x.dtype == l.dtype == np.float32
    want_x, want_l = block_reference(a.astype(np.float64), e.astype(np.float64))
    assert rel_err(l, want_l) <= tolerance(np.float32, a)


def test_triangular_input_returns_the_accurate_exponential():
    # Squaring r_m(2^-s A) loses the cancellation in this matrix's top row; expm does not.
    a = np.array(
        [
            [-1.128679820, 9.614183771e4, -4.524855739e9, 2.924969411e14],
            [0, -1.201010529, 9.634696872e4, -4.681048289e9],
            [0, 0, -1.132893222, 9.532491830e4],
            [0, 0, 0, -1.179475332],
        ]
    )
    x, _ = linflow.expm_frechet(a, np.eye(4))
    np.testing.assert_array_equal(x, linflow.expm(a))


def test_empty_and_scalar_matrices():
    x, l = linflow.expm_frechet(np.zeros((0, 0)), np.zeros((0, 0)))
    assert x.shape == l.shape == (0, 0)
    x, l = linflow.expm_frechet([[0.5]], [[2.0]])
    assert x[0, 0] == pytest.approx(np.exp(0.5), rel=1e-15)
    assert l[0, 0] == pytest.approx(2 * np.exp(0.5), rel=1e-15)


def test_inputs_are_not_modified():
    a = np.asfortranarray(PAIR_A.copy())
    e = PAIR_E.copy()[:, ::-1]
    a0, e0 = a.copy(), e.copy()
    a.flags.writeable = False
    linflow.expm_frechet(a, e)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(e, e0)


@pytest.mark.parametrize(
    "a, e, exc, match",
    [
        (np.eye(3), np.eye(2), ValueError, "same shape"),
        (np.ones((2, 3)), np.ones((2, 3)), ValueError, "square"),
        (np.ones(3), np.ones(3), ValueError, "square"),
        (1.0, 2.0, ValueError, "square"),
        (np.eye(2), np.ones((2, 3)), ValueError, "square"),
        (np.array([[np.nan]]), np.array([[1.0]]), ValueError, "infs or NaNs"),
        (np.array([[1.0]]), np.array([[np.inf]]), ValueError, "infs or NaNs"),
        (np.array([["a"]]), np.array([["b"]]), TypeError, "dtype"),
        (np.array([[1]], dtype=object), np.array([[1.0]]), TypeError, "dtype"),
    ],
)
def test_errors(a, e, exc, match):
    with pytest.raises(exc, match=match):
        linflow.expm_frechet(a, e)


def test_unknown_method():
    with pytest.raises(ValueError, match="Unknown implementation foo"):
        linflow.expm_frechet(PAIR_A, PAIR_E, method="foo")


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.float64, (3, 3), elements=st.floats(-3, 3)),
    hnp.arrays(np.float64, (3, 3), elements=st.floats(-3, 3)),
)
def test_linear_in_the_direction(a, e):
    # L(A, 2E - E') = 2 L(A, E) - L(A, E'), and both methods agree.
    l1 = linflow.expm_frechet(a, e, compute_expm=False)
    l2 = linflow.expm_frechet(a, e.T, compute_expm=False)
    l3 = linflow.expm_frechet(a, 2 * e - e.T, compute_expm=False)
    scale = np.abs(l1).max() + np.abs(l2).max() + 1.0
    assert np.abs(l3 - (2 * l1 - l2)).max() <= 1e-13 * scale * max(1.0, np.abs(a).sum(axis=0).max())
    lb = linflow.expm_frechet(a, e, method="blockEnlarge", compute_expm=False)
    assert np.abs(lb - l1).max() <= 1e-13 * scale * max(1.0, np.abs(a).sum(axis=0).max())
