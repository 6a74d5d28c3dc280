"""The worked examples of the subject material, reproduced with linflow and checked.

Each example computes a matrix exponential with :func:`linflow.expm` and compares it with its
closed form. :func:`run` prints one table row per check (its error and tolerance) and returns
whether every check passed; ``python -m linflow demo`` exits non-zero when one fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._core import expm

__all__ = ["Check", "checks", "run"]


@dataclass(frozen=True)
class Check:
    """One worked example: ``compute()`` returns ``(got, want)``, compared in the 1-norm."""

    name: str
    compute: Callable[[], tuple[np.ndarray, np.ndarray]]
    tol: float = 1e-14

    def error(self) -> float:
        """Relative 1-norm error of ``got`` against ``want`` (absolute where ``want`` is 0)."""
        got, want = self.compute()
        got = np.atleast_2d(np.asarray(got))
        want = np.atleast_2d(np.asarray(want))
        scale = np.linalg.norm(want, 1) or 1.0
        return float(np.linalg.norm(got - want, 1) / scale)


def _rotation(theta: float) -> np.ndarray:
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def _generator(theta: float) -> np.ndarray:
    return theta * np.array([[0.0, -1.0], [1.0, 0.0]])


def _triangular() -> tuple[np.ndarray, np.ndarray]:
    # [[1, 2], [0, 3]]: exp has e, e^3 on the diagonal and 2 (e^3 - e) / (3 - 1) above it.
    e1, e3 = np.exp(1.0), np.exp(3.0)
    return expm(np.array([[1, 2], [0, 3]])), np.array([[e1, e3 - e1], [0.0, e3]])


def _inverse() -> tuple[np.ndarray, np.ndarray]:
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    return expm(a) @ expm(-a), np.eye(2)


def _commuting_sum() -> tuple[np.ndarray, np.ndarray]:
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = 2.0 * a + 0.5 * np.eye(2)  # commutes with a
    return expm(a + b), expm(a) @ expm(b)


def _ode_solution() -> tuple[np.ndarray, np.ndarray]:
    # x' = [[-1, 1], [0, -2]] x, x(0) = (1, 1): x2 = e^-2t, x1 = 2 e^-t - e^-2t.
    a = np.array([[-1.0, 1.0], [0.0, -2.0]])
    t = 1.0
    want = np.array([2 * np.exp(-t) - np.exp(-2 * t), np.exp(-2 * t)])
    return expm(a * t) @ np.array([1.0, 1.0]), want


def _upper_solution() -> tuple[np.ndarray, np.ndarray]:
    # x' = [[-1, 2], [0, -3]] x, x(0) = (1, 1) at t = 0, 0.5, 1, 2, 5: x2 = e^-3t, x1 = 2 e^-t - e^-3t.
    a = np.array([[-1.0, 2.0], [0.0, -3.0]])
    ts = np.array([0.0, 0.5, 1.0, 2.0, 5.0])
    got = np.array([expm(a * t) @ np.array([1.0, 1.0]) for t in ts])
    want = np.stack([2 * np.exp(-ts) - np.exp(-3 * ts), np.exp(-3 * ts)], axis=1)
    return got, want


def _random_inverse() -> tuple[np.ndarray, np.ndarray]:
    a = np.random.default_rng(50).standard_normal((4, 4))
    return expm(a) @ expm(-a), np.eye(4)


def checks() -> list[Check]:
    """The worked examples, in the order the material presents them."""
    return [
        Check("rotation generator, theta = pi/6", lambda: (expm(_generator(np.pi / 6)), _rotation(np.pi / 6))),
        Check("rotation generator, theta = pi/4", lambda: (expm(_generator(np.pi / 4)), _rotation(np.pi / 4))),
        Check("rotation by pi/2 (exercise 1)", lambda: (expm(_generator(np.pi / 2)), _rotation(np.pi / 2))),
        Check("upper triangular [[1, 2], [0, 3]]", _triangular),
        Check("diagonal diag(1, 2, 3)", lambda: (expm(np.diag([1.0, 2.0, 3.0])), np.diag(np.exp([1.0, 2.0, 3.0])))),
        Check("exp(0) = I", lambda: (expm(np.zeros((3, 3))), np.eye(3)), tol=0.0),
        # Forming the product costs eps ||e^A|| ||e^-A|| (about 1e-13 here) whatever expm does.
        Check("expm(A) expm(-A) = I", _inverse, tol=1e-12),
        Check("commuting sum exp(A + B) = exp(A) exp(B)", _commuting_sum, tol=1e-13),
        Check("x' = [[-1, 1], [0, -2]] x at t = 1", _ode_solution),
        Check("x' = [[-1, 2], [0, -3]] x at five times (exercise 2)", _upper_solution),
        Check("random 4x4 expm(A) expm(-A) = I (exercise 3)", _random_inverse, tol=1e-12),
    ]


def run(print_fn: Callable[[str], None] = print) -> bool:
    """Prints every check as a table row and returns True when all pass."""
    rows = [(c.name, c.error(), c.tol) for c in checks()]
    width = max(len(name) for name, _, _ in rows)
    print_fn(f"{'check':<{width}}  {'error':>9}  {'tolerance':>9}  result")
    ok = True
    for name, err, tol in rows:
        passed = err <= tol
        ok &= passed
        print_fn(f"{name:<{width}}  {err:9.2e}  {tol:9.1e}  {'ok' if passed else 'FAILED'}")
    print_fn(f"{sum(err <= tol for _, err, tol in rows)} passed, {sum(err > tol for _, err, tol in rows)} failed")
    return ok
