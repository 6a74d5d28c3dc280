"""linflow.expm against closed forms, mpmath references and scipy's behaviour."""

import numpy as np
import pytest
import scipy.linalg
from conftest import eps, mp_expm, rel_err
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import linflow


def rotation(t):
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


# ---------------------------------------------------------------- closed forms, every dtype


@pytest.mark.parametrize("t", [1e-3, 0.5, np.pi / 3, 2.0, 10.0])
def test_rotation_generator(dtype, t):
    a = (t * np.array([[0.0, -1.0], [1.0, 0.0]])).astype(dtype)
    got = linflow.expm(a)
    assert got.dtype == dtype
    assert rel_err(got, rotation(t)) <= 8 * max(t, 1.0) * eps(dtype)


def test_zero_is_identity(dtype):
    for n in (1, 2, 3, 7, 20):
        got = linflow.expm(np.zeros((n, n), dtype=dtype))
        np.testing.assert_array_equal(got, np.eye(n))


def test_diagonal_is_exact(dtype):
    d = np.array([-3.0, -0.5, 0.0, 1.25, 4.0]).astype(dtype)
    got = linflow.expm(np.diag(d))
    np.testing.assert_array_equal(got, np.diag(np.exp(d)))


@pytest.mark.parametrize("lam", [-3.0, 0.0, 0.7])
def test_jordan_block(dtype, lam):
    a = np.array([[lam, 1.0, 0.0], [0.0, lam, 1.0], [0.0, 0.0, lam]])
    e = np.exp(lam)
    want = e * np.array([[1.0, 1.0, 0.5], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    assert rel_err(linflow.expm(a.astype(dtype)), want) <= 4 * eps(dtype)
    assert rel_err(linflow.expm(a.T.astype(dtype)), want.T) <= 4 * eps(dtype)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128], ids=["complex64", "complex128"])
def test_unitary_evolution(dtype):
    # exp(-i t H) of a Hermitian H is unitary and equals V diag(e^{-i t w}) V^H.
    h = np.array([[1.0, 2.0 - 1.0j], [2.0 + 1.0j, -0.5]])
    u = linflow.expm((-1j * 0.7 * h).astype(dtype))
    assert np.abs(u.conj().T @ u - np.eye(2)).max() <= 20 * eps(dtype)
    w, v = np.linalg.eigh(h)
    want = v @ np.diag(np.exp(-1j * 0.7 * w)) @ v.conj().T
    assert rel_err(u, want) <= 20 * eps(dtype)


def test_two_by_two_closed_form(dtype):
    # [[1, 3], [4, 5]] = 3I + N with N^2 = 16 I: exp = e^3 (cosh 4 I + sinh(4)/4 N).
    n = np.array([[-2.0, 3.0], [4.0, 2.0]])
    want = np.exp(3.0) * (np.cosh(4.0) * np.eye(2) + np.sinh(4.0) / 4.0 * n)
    got = linflow.expm(np.array([[1.0, 3.0], [4.0, 5.0]], dtype=dtype))
    # scipy.linalg.expm 1.17 errs by 3.6e-13 here (DESIGN.md); we ask for working precision.
    assert rel_err(got, want) <= 16 * eps(dtype)


# ---------------------------------------------------------------- hard cases, float64


def test_triangular_close_eigenvalues():
    a = np.array([[1.0, 1e8], [0.0, 1.0 + 1e-10]])
    d = a[1, 1] - a[0, 0]
    want = np.array([[np.e, 1e8 * np.e * np.expm1(d) / d], [0.0, np.exp(a[1, 1])]])
    got = linflow.expm(a)
    assert rel_err(got, want) <= 4 * eps(np.float64)
    assert rel_err(got, mp_expm(a)) <= 4 * eps(np.float64)


def test_triangular_close_eigenvalues_lower_and_complex():
    a = np.array([[1.0, 0.0], [1e8, 1.0 + 1e-10]])
    assert rel_err(linflow.expm(a), mp_expm(a)) <= 4 * eps(np.float64)
    c = np.array([[1.0 + 1j, 1e8], [0.0, 1.0 + 1j + 1e-10]])
    assert rel_err(linflow.expm(c), mp_expm(c)) <= 4 * eps(np.float64)


def test_laplacian_decay_has_no_overflow():
    n = 6
    lap = np.diag(np.r_[1.0, 2.0 * np.ones(n - 2), 1.0]) - np.eye(n, k=1) - np.eye(n, k=-1)
    got = linflow.expm(-2000.0 * lap)
    assert np.all(np.isfinite(got))
    # The limit is the projector onto the constant vector; the relative condition number of
    # exp at -2000 L is about ||2000 L|| = 8000, the error bound's scale.
    assert rel_err(got, np.full((n, n), 1.0 / n)) <= 8000 * eps(np.float64)


@pytest.mark.parametrize(
    "a",
    [
        # Moler & Van Loan's eigenvalues -1 and -17 with a bad eigenvector basis.
        [[-49.0, 24.0], [-64.0, 31.0]],
        # A stiff companion-like matrix.
        [[0.0, 1.0], [-39.0, -40.0]],
        # Perturbed Jordan block: eigenvalues 1 +- 1e-8.
        [[1.0 + 1e-8, 1.0], [0.0, 1.0 - 1e-8]],
        # Upper Hessenberg, non-normal.
        [[4.0, 2.0, 0.0], [1.0, 4.0, 1.0], [1.0, 1.0, 4.0]],
        # Large norm, skew-symmetric: a rotation by 30 rad.
        [[0.0, -30.0], [30.0, 0.0]],
        # Nilpotent with a large entry.
        [[0.0, 6.0, 0.0, 0.0], [0.0, 0.0, 6.0, 0.0], [0.0, 0.0, 0.0, 6.0], [0.0, 0.0, 0.0, 0.0]],
        # Tiny norm: exercises order 3.
        [[1e-4, 2e-4], [-3e-4, 5e-5]],
    ],
    ids=["moler-van-loan", "stiff", "perturbed-jordan", "hessenberg", "rotation30", "nilpotent", "tiny"],
)
def test_hard_cases_against_mpmath(a):
    a = np.array(a)
    ref = mp_expm(a)
    got = linflow.expm(a)
    # Relative condition number of these cases is at most a few hundred (Moler & Van Loan's
    # case), so working precision means within ~1e3 eps of the 50-digit answer.
    assert rel_err(got, ref) <= 1e3 * eps(np.float64)
    # ... and never meaningfully worse than scipy on the same input.
    assert rel_err(got, ref) <= max(4 * rel_err(scipy.linalg.expm(a), ref), 10 * eps(np.float64))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("norm", [1e-3, 0.3, 3.0, 30.0])
def test_random_against_scipy_and_mpmath(seed, norm):
    rng = np.random.default_rng(seed)
    n = 2 + seed
    a = rng.standard_normal((n, n))
    a *= norm / np.linalg.norm(a, 1)
    ref = mp_expm(a)
    got = linflow.expm(a)
    assert rel_err(got, ref) <= max(4 * rel_err(scipy.linalg.expm(a), ref), 64 * n * eps(np.float64))


@pytest.mark.parametrize("norm", [1e-2, 1.0, 5.0, 40.0])
def test_single_precision_uses_single_thresholds(norm):
    # float32 input computes in float32 and is accurate to float32 working precision.
    rng = np.random.default_rng(7)
    for n in (2, 3, 5, 8):
        a = rng.standard_normal((n, n)).astype(np.float32)
        a *= np.float32(norm / np.linalg.norm(a, 1))
        ref = mp_expm(a.astype(np.float64))
        got = linflow.expm(a)
        assert got.dtype == np.float32
        cond_scale = max(1.0, norm)
        assert rel_err(got, ref) <= 32 * n * cond_scale * eps(np.float32)
        c = (a + 1j * a[::-1]).astype(np.complex64)
        got_c = linflow.expm(c)
        assert got_c.dtype == np.complex64
        assert rel_err(got_c, mp_expm(c.astype(np.complex128))) <= 32 * n * 2 * cond_scale * eps(np.float32)


# ---------------------------------------------------------------- batches


def test_batch_matches_one_by_one(dtype):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 5, 3, 3)).astype(dtype)
    if np.issubdtype(dtype, np.complexfloating):
        a = a + 1j * rng.standard_normal(a.shape).astype(dtype)
    got = linflow.expm(a)
    assert got.shape == a.shape and got.dtype == dtype
    for i in range(4):
        for j in range(5):
            np.testing.assert_array_equal(got[i, j], linflow.expm(a[i, j]))


def test_large_batch_parallel_equals_serial():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((2000, 4, 4))
    got = linflow.expm(a)
    for k in (0, 777, 1999):
        np.testing.assert_array_equal(got[k], linflow.expm(a[k]))
    # scipy.linalg.expm itself errs by ~1e-13 on such matrices; mpmath is the reference.
    for k in (3, 1000):
        assert rel_err(got[k], mp_expm(a[k])) < 64 * eps(np.float64)


def test_larger_matrix_against_scipy_sparse():
    # scipy.sparse.linalg.expm is the tighter scipy reference at this size (DESIGN.md).
    import scipy.sparse.linalg

    rng = np.random.default_rng(5)
    a = rng.standard_normal((60, 60)) / 8
    assert rel_err(linflow.expm(a), scipy.sparse.linalg.expm(a)) < 1e-13


# ---------------------------------------------------------------- scipy's interface


def test_scalar_and_one_element_inputs():
    assert linflow.expm(2.0).shape == (1, 1)
    np.testing.assert_allclose(linflow.expm(2.0), [[np.exp(2.0)]], rtol=1e-15)
    np.testing.assert_allclose(linflow.expm(np.array([0.5])), [[np.exp(0.5)]], rtol=1e-15)
    np.testing.assert_allclose(linflow.expm(1j), [[np.exp(1j)]], rtol=1e-15)
    got = linflow.expm(np.full((3, 1, 1), 0.25, dtype=np.float32))
    assert got.shape == (3, 1, 1) and got.dtype == np.float32
    np.testing.assert_allclose(got, np.exp(np.float32(0.25)), rtol=eps(np.float32))


@pytest.mark.parametrize("shape", [(0, 0), (3, 0, 0), (0, 2, 2), (2, 0, 4, 4)])
def test_empty_inputs(shape):
    got = linflow.expm(np.zeros(shape, dtype=np.int64))
    assert got.shape == shape and got.dtype == np.float64
    assert scipy.linalg.expm(np.zeros(shape)).shape == shape


@pytest.mark.parametrize(
    "src, want",
    [
        (np.float16, np.float32),
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.complex64, np.complex64),
        (np.complex128, np.complex128),
        (np.int8, np.float64),
        (np.int64, np.float64),
        (np.uint16, np.float64),
        (np.bool_, np.float64),
    ],
)
def test_dtype_rules(src, want):
    a = np.array([[1, 0], [1, 1]], dtype=src)
    got = linflow.expm(a)
    assert got.dtype == want
    np.testing.assert_allclose(got, [[np.e, 0.0], [np.e, np.e]], rtol=4 * eps(want))


def test_python_lists_work():
    np.testing.assert_allclose(linflow.expm([[0.0, 1.0], [0.0, 0.0]]), [[1.0, 1.0], [0.0, 1.0]])


@pytest.mark.parametrize("bad", [np.array([["a", "b"], ["c", "d"]]), np.array([[1, 2], [3, 4]], dtype=object)])
def test_unsupported_dtypes_raise_type_error(bad):
    with pytest.raises(TypeError, match="unsupported dtype"):
        linflow.expm(bad)


def test_shape_errors_match_scipy():
    for bad in (np.ones(3), np.ones((2, 3)), np.ones((4, 2, 3))):
        with pytest.raises(np.linalg.LinAlgError):
            scipy.linalg.expm(bad)
        with pytest.raises(np.linalg.LinAlgError):
            linflow.expm(bad)


def test_non_finite_input_raises_value_error():
    for bad in ([[1.0, np.nan], [0.0, 1.0]], [[np.inf, 1.0], [2.0, 1.0]], np.full((3, 2, 2), np.nan)):
        with pytest.raises(ValueError, match="infs or NaNs"):
            linflow.expm(np.array(bad))


def test_layouts_and_caller_array_untouched():
    rng = np.random.default_rng(8)
    base = rng.standard_normal((6, 4, 4)) / 2
    want = linflow.expm(np.ascontiguousarray(base))
    fortran = np.asfortranarray(base)
    np.testing.assert_array_equal(linflow.expm(fortran), want)
    np.testing.assert_array_equal(linflow.expm(base.transpose(0, 2, 1)), linflow.expm(np.ascontiguousarray(base.transpose(0, 2, 1))))
    big = rng.standard_normal((12, 9, 9))
    strided = big[::2, 1::2, 1::2]
    np.testing.assert_array_equal(linflow.expm(strided), linflow.expm(np.ascontiguousarray(strided)))
    reversed_ = base[::-1, ::-1, :]
    np.testing.assert_array_equal(linflow.expm(reversed_), linflow.expm(np.ascontiguousarray(reversed_)))
    ro = base.copy()
    ro.setflags(write=False)
    np.testing.assert_array_equal(linflow.expm(ro), want)
    copy = base.copy()
    linflow.expm(base)
    np.testing.assert_array_equal(base, copy)
    swapped = base.astype(base.dtype.newbyteorder(">"))
    np.testing.assert_array_equal(linflow.expm(swapped), want)


# ---------------------------------------------------------------- properties (hypothesis)


def matrices(dtype, max_n=5, bound=2.0):
    real = np.dtype(dtype).type(0).real.dtype
    elements = st.floats(-bound, bound, allow_nan=False, width=32 if real == np.float32 else 64)

    @st.composite
    def build(draw):
        n = draw(st.integers(1, max_n))
        a = draw(hnp.arrays(real, (n, n), elements=elements))
        if np.issubdtype(dtype, np.complexfloating):
            a = a + 1j * draw(hnp.arrays(real, (n, n), elements=elements))
        return a.astype(dtype) / np.array(max(1.0, n / 2.0), dtype=real)

    return build()


def prop_tol(a):
    n = a.shape[0]
    return 64 * n * eps(a.dtype) * np.exp(2 * np.linalg.norm(a.astype(np.complex128), 1))


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.complex64, np.complex128], ids=lambda d: np.dtype(d).name)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_inverse_property(dt, data):
    a = data.draw(matrices(dt))
    prod = linflow.expm(a).astype(np.complex128) @ linflow.expm(-a).astype(np.complex128)
    assert np.abs(prod - np.eye(a.shape[0])).max() <= prop_tol(a)


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.complex64, np.complex128], ids=lambda d: np.dtype(d).name)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_doubling_property(dt, data):
    a = data.draw(matrices(dt))
    e1 = linflow.expm(a).astype(np.complex128)
    e2 = linflow.expm((2 * a).astype(dt)).astype(np.complex128)
    assert np.abs(e2 - e1 @ e1).max() <= prop_tol(2 * a)


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.complex64, np.complex128], ids=lambda d: np.dtype(d).name)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_determinant_property(dt, data):
    a = data.draw(matrices(dt))
    det = np.linalg.det(linflow.expm(a).astype(np.complex128))
    want = np.exp(np.trace(a.astype(np.complex128)))
    assert abs(det - want) <= prop_tol(a) * max(1.0, abs(want)) * a.shape[0]


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.complex64, np.complex128], ids=lambda d: np.dtype(d).name)
@settings(max_examples=60, deadline=None)
@given(data=st.data(), c=st.floats(-1, 1), d=st.floats(-0.5, 0.5))
def test_commuting_sum_property(dt, data, c, d):
    # B = c A + d A^2 commutes with A, so exp(A + B) = exp(A) exp(B).
    a = data.draw(matrices(dt, bound=1.0))
    b = (c * a + d * (a @ a)).astype(dt)
    lhs = linflow.expm((a + b).astype(dt)).astype(np.complex128)
    rhs = linflow.expm(a).astype(np.complex128) @ linflow.expm(b).astype(np.complex128)
    assert np.abs(lhs - rhs).max() <= prop_tol(a) * np.exp(2 * np.linalg.norm(b.astype(np.complex128), 1))
