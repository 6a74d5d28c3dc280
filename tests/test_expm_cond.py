"""linflow.expm_cond against scipy's values, the explicit Kronecker form and closed forms."""

import numpy as np
import pytest
import scipy.linalg
from conftest import eps

import linflow


def kronecker_norm(a):
    """||K(A)||_2 from the explicit n^2 x n^2 Kronecker form, built column by column from
    linflow.expm_frechet (vec stacks columns), and its SVD: the definition, independently of
    the Lanczos iteration linflow uses."""
    n = a.shape[0]
    cols = []
    for i in range(n):
        for j in range(n):
            e = np.zeros((n, n), dtype=a.dtype)
            e[i, j] = 1
            cols.append(linflow.expm_frechet(a, e, compute_expm=False).T.ravel())
    return np.linalg.norm(np.array(cols).T, 2)


def test_docstring_value():
    a = np.array([[-0.3, 0.2, 0.6], [0.6, 0.3, -0.1], [-0.7, 1.2, 0.9]])
    assert linflow.expm_cond(a) == pytest.approx(1.7787805864469866, rel=1e-13)


@pytest.mark.parametrize("x", list(np.linspace(-5, 5, 11)) + list(np.logspace(-2, 2, 11)))
def test_univariate(x):
    # kappa = |x| exp(x) / exp(x) = |x|; exp and L each carry about |x| eps.
    assert linflow.expm_cond(np.array([[x]])) == pytest.approx(abs(x), rel=4 * eps(np.float64) * max(1, abs(x)))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_matches_scipy_and_the_kronecker_definition(n):
    rng = np.random.default_rng(n)
    for scale in (0.1, 1.0, 4.0):
        a = scale * rng.standard_normal((n, n))
        kappa = linflow.expm_cond(a)
        assert kappa == pytest.approx(scipy.linalg.expm_cond(a), rel=1e-12)
        x = linflow.expm(a)
        want = kronecker_norm(a) * np.linalg.norm(a) / np.linalg.norm(x)
        assert kappa == pytest.approx(want, rel=1e-12)


def test_complex_matrices():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    assert linflow.expm_cond(a) == pytest.approx(scipy.linalg.expm_cond(a), rel=1e-12)


def test_normal_matrix_closed_form():
    # For normal A, K(A) is normal with eigenvalues f[l_i, l_j]: ||K||_2 = max |f[l_i, l_j]|.
    q, _ = np.linalg.qr(np.random.default_rng(4).standard_normal((4, 4)))
    lam = np.array([-2.0, -0.5, 0.3, 1.1])
    a = q @ np.diag(lam) @ q.T
    want = np.exp(lam.max()) * np.linalg.norm(lam) / np.linalg.norm(np.exp(lam))
    assert linflow.expm_cond(a) == pytest.approx(want, rel=1e-13)


def test_bad_condition_number():
    a = np.array(
        [
            [-1.128679820, 9.614183771e4, -4.524855739e9, 2.924969411e14],
            [0, -1.201010529, 9.634696872e4, -4.681048289e9],
            [0, 0, -1.132893222, 9.532491830e4],
            [0, 0, 0, -1.179475332],
        ]
    )
    assert linflow.expm_cond(a) > 1e36


def test_perturbations_stay_within_the_condition_number():
    # The relative change of expm under a relative perturbation delta is at most about
    # kappa delta, and the worst direction (the top singular vector of K) comes close to it.
    rng = np.random.default_rng(12345)
    delta = 1e-7
    for _ in range(5):
        a = rng.standard_normal((3, 3))
        kappa = linflow.expm_cond(a)
        x = linflow.expm(a)
        worst = 0.0
        for _ in range(20):
            p = rng.standard_normal((3, 3))
            p *= delta * np.linalg.norm(a) / np.linalg.norm(p)
            change = np.linalg.norm(linflow.expm(a + p) - x) / (np.linalg.norm(x) * delta)
            worst = max(worst, change)
        assert worst <= kappa * (1 + 1e-5)
        assert worst >= kappa / 10


def test_batches():
    rng = np.random.default_rng(9)
    a = rng.standard_normal((2, 3, 4, 4))
    kappa = linflow.expm_cond(a)
    assert kappa.shape == (2, 3)
    np.testing.assert_allclose(kappa, scipy.linalg.expm_cond(a), rtol=1e-12)
    assert kappa[1, 2] == linflow.expm_cond(a[1, 2])


def test_return_types():
    a = np.array([[0.1, 1.0], [-1.0, 0.2]])
    k = linflow.expm_cond(a)
    assert isinstance(k, np.float64)
    k32 = linflow.expm_cond(a.astype(np.float32))
    assert isinstance(k32, np.float32)
    assert k32 == pytest.approx(k, rel=1e-5)
    assert isinstance(linflow.expm_cond(a.astype(np.complex64)), np.float32)
    assert isinstance(linflow.expm_cond(a.astype(np.complex128)), np.float64)
    assert isinstance(linflow.expm_cond(np.eye(2, dtype=int)), np.float64)
    assert linflow.expm_cond(np.zeros((3, 3))) == 0.0
    assert np.isnan(linflow.expm_cond(np.zeros((0, 0))))


@pytest.mark.parametrize(
    "a, exc",
    [
        (np.ones((2, 3)), ValueError),
        (np.ones(3), ValueError),
        (2.0, ValueError),
        (np.array([[np.nan]]), ValueError),
        (np.array([["x"]]), TypeError),
    ],
)
def test_errors(a, exc):
    with pytest.raises(exc):
        linflow.expm_cond(a)


# ---------------------------------------------------------------- where exp(A) overflows (issue 7)
#
# kappa depends on L(A, .) and exp(A) only through their ratio: it is finite wherever its exact
# value is representable, also where exp(A) overflows (scipy raises ValueError there). Closed
# forms for normal matrices (K(A) normal with eigenvalues f[l_i, l_j]), mpmath for a non-normal
# one.


def squarings_tolerance(norm: float, dtype) -> float:
    """A few eps per squaring of the ratio ||L|| / ||R||: s = log2(norm) of them."""
    return 4 * (np.log2(max(norm, 2.0)) + 2) * eps(dtype)


@pytest.mark.parametrize(
    "a, want",
    [
        # c * ones((3, 3)): eigenvalues 3c and 0; for 3c >> 1, kappa = 3c e^3c / sqrt(e^6c + 2) = 3c.
        pytest.param(np.full((3, 3), 1e300), 3e300, id="ones-1e300"),
        pytest.param(np.full((3, 3), np.iinfo(np.int64).max), 3.0 * np.iinfo(np.int64).max, id="ones-int64-max"),
        pytest.param(np.full((3, 3), 65504.0, np.float16), 3 * 65504.0, id="ones-float16-largest"),
        pytest.param(np.full((3, 3), 1e30, np.float32), 3e30, id="ones-float32-1e30"),
        pytest.param(np.full((3, 3), 1e300 + 0j), 3e300, id="ones-complex"),
        # diag(a, -a): max f[l_i, l_j] = e^a, ||exp||_F = sqrt(e^2a + e^-2a): kappa = sqrt(2) a.
        pytest.param(np.diag([1e300, -1e300]), np.sqrt(2) * 1e300, id="diag-spread-overflows"),
        pytest.param(np.diag([800.0, 1.0, -5.0]), np.sqrt(800.0**2 + 1 + 25), id="diag-800"),
        # A scalar: kappa = |a|, also where exp(a) underflows to 0.
        pytest.param(np.array([[1e308]]), 1e308, id="scalar-1e308"),
        pytest.param(np.array([[-1e4]]), 1e4, id="scalar-underflow"),
        pytest.param(np.array([[200.0]], np.float32), 200.0, id="scalar-float32-overflow"),
    ],
)
def test_closed_forms_where_exp_overflows(a, want):
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(scipy.linalg.expm(a.astype(np.complex128)))) or a.size == 1 or np.max(np.abs(a)) < 1e3
    kappa = linflow.expm_cond(a)
    dtype = kappa.dtype
    assert np.isfinite(kappa)
    assert kappa == pytest.approx(want, rel=squarings_tolerance(np.abs(a).astype(np.float64).sum(axis=0).max(), dtype))


def test_overflows_to_inf_only_where_kappa_does():
    # kappa = 3c and 3c / sqrt(2) for c the largest float: beyond it, inf (never NaN).
    big = np.finfo(np.float64).max
    assert linflow.expm_cond(np.full((3, 3), big)) == np.inf
    assert linflow.expm_cond(np.full((3, 3), -big)) == np.inf
    assert linflow.expm_cond(np.full((3, 3), np.finfo(np.float32).max)) == np.float32(np.inf)


def mp_cond(a, dps: int = 40) -> float:
    """kappa(A) by its definition at ``dps`` digits: the Kronecker form K(A), column by column
    from the upper right block of expm([[A, E_ij], [0, A]]) (mpmath), its largest singular value,
    and the Frobenius norms."""
    import mpmath

    n = a.shape[0]
    with mpmath.workdps(dps):
        am = mpmath.matrix(a.tolist())
        cols = []
        for i in range(n):
            for j in range(n):
                big = mpmath.zeros(2 * n, 2 * n)
                for r in range(n):
                    for c in range(n):
                        big[r, c] = big[n + r, n + c] = am[r, c]
                big[i, n + j] = 1
                eb = mpmath.expm(big)
                cols.append([eb[r, n + c] for c in range(n) for r in range(n)])
        k = mpmath.matrix(cols).T
        k_norm = max(mpmath.svd_r(k, compute_uv=False))
        x = mpmath.expm(am)
        fro = lambda m: mpmath.sqrt(sum(abs(m[r, c]) ** 2 for r in range(n) for c in range(n)))
        return float(k_norm * fro(am) / fro(x))


@pytest.mark.parametrize(
    "a",
    [
        pytest.param(np.array([[800.0, 3.0], [0.5, 710.0]]), id="dense-800"),
        pytest.param(np.array([[900.0, 40.0], [0.0, 700.0]]), id="triangular-900"),
        pytest.param(np.array([[750.0, 2.0, 0.0], [-1.0, 760.0, 1.0], [0.0, 3.0, -20.0]]), id="dense-3x3"),
    ],
)
def test_non_normal_against_mpmath_where_exp_overflows(a):
    with np.errstate(all="ignore"):
        assert not np.all(np.isfinite(scipy.linalg.expm(a)))
    want = mp_cond(a)
    assert linflow.expm_cond(a) == pytest.approx(want, rel=1e-12)


def test_rescaled_squaring_matches_scipy_where_scipy_is_finite():
    # ||A||_1 beyond the rescaling threshold (about 160) while exp(A) stays finite: the squares
    # are rescaled (at the end at least), and the value is scipy's.
    rng = np.random.default_rng(77)
    for n in (2, 4, 6):
        a = 100.0 * rng.standard_normal((n, n))
        assert np.abs(a).sum(axis=0).max() > 160
        want = scipy.linalg.expm_cond(a)
        assert np.isfinite(want)
        assert linflow.expm_cond(a) == pytest.approx(want, rel=1e-11)
