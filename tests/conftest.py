"""Shared helpers for the linflow test-suite: references and error measures."""

import mpmath
import numpy as np
import pytest

DTYPES = [np.float32, np.float64, np.complex64, np.complex128]


def eps(dtype) -> float:
    """Machine epsilon of the real type behind ``dtype``."""
    return float(np.finfo(np.dtype(dtype)).eps)


def rel_err(x, ref) -> float:
    """Relative error in the 1-norm, computed in float64/complex128, over the last two axes."""
    x = np.asarray(x, dtype=np.complex128)
    ref = np.asarray(ref, dtype=np.complex128)
    num = np.abs(x - ref).sum(axis=-2).max(axis=-1)
    den = np.abs(ref).sum(axis=-2).max(axis=-1)
    return float(np.max(num / den))


def mp_expm(a, dps: int = 50) -> np.ndarray:
    """``exp(a)`` by mpmath at ``dps`` digits, as complex128 (the test reference)."""
    a = np.asarray(a)
    with mpmath.workdps(dps):
        m = mpmath.matrix([[mpmath.mpc(complex(v)) for v in row] for row in a])
        e = mpmath.expm(m)
        return np.array([[complex(e[i, j]) for j in range(a.shape[1])] for i in range(a.shape[0])])


@pytest.fixture(params=DTYPES, ids=lambda d: np.dtype(d).name)
def dtype(request):
    return request.param
