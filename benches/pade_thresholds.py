"""Derive the Pade scaling-and-squaring thresholds theta_m used by the core crate.

theta_m is the largest theta with  sum_k |c_k| theta^(k-1) <= u,  where
log(exp(-x) r_m(x)) = sum_{k >= 2m+1} c_k x^k  is the backward-error series of the
[m/m] Pade approximant r_m (Al-Mohy & Higham 2009, Section 3; Higham 2005, Section 2).
u is the unit roundoff: 2^-53 for double, 2^-24 for single precision.

Run:  python benches/pade_thresholds.py
"""

import mpmath as mp

mp.mp.dps = 80
TERMS = 300  # series terms kept: enough that doubling them leaves every theta unchanged


def pade_coefficients(m):
    """Numerator coefficients b_j of the [m/m] Pade approximant to exp (q(x) = p(-x))."""
    return [mp.factorial(2 * m - j) * mp.factorial(m) / (mp.factorial(2 * m) * mp.factorial(j) * mp.factorial(m - j)) for j in range(m + 1)]


def backward_error_series(m, terms=TERMS):
    """Taylor coefficients c_0..c_terms of log(exp(-x) p(x) / q(x)) by power-series arithmetic."""
    b = pade_coefficients(m)
    n = terms + 1
    p = [b[j] if j <= m else mp.mpf(0) for j in range(n)]
    q = [(-1) ** j * b[j] if j <= m else mp.mpf(0) for j in range(n)]
    e = [(-1) ** k / mp.factorial(k) for k in range(n)]
    num = [sum(e[i] * p[k - i] for i in range(k + 1)) for k in range(n)]
    f = [mp.mpf(0)] * n  # f = num / q, q[0] = 1
    for k in range(n):
        f[k] = num[k] - sum(q[i] * f[k - i] for i in range(1, k + 1))
    # log f with f[0] = 1:  (log f)' = f' / f, so k g_k = k f_k - sum_{i=1}^{k-1} i g_i f_{k-i}
    g = [mp.mpf(0)] * n
    for k in range(1, n):
        g[k] = (k * f[k] - sum(i * g[i] * f[k - i] for i in range(1, k))) / k
    return g


def theta(m, u):
    c = backward_error_series(m)
    absc = [abs(ck) for ck in c]

    def g(t):
        return sum(ck * t ** (k - 1) for k, ck in enumerate(absc) if k >= 1) - u

    lo, hi = mp.mpf(0), mp.mpf(1)
    while g(hi) < 0:
        hi *= 2
    for _ in range(200):  # bisection: g is increasing in t
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if g(mid) < 0 else (lo, mid)
    return lo


if __name__ == "__main__":
    for name, u in (("double", mp.mpf(2) ** -53), ("single", mp.mpf(2) ** -24)):
        for m in (3, 5, 7, 9, 13):
            print(f"{name} theta_{m} = {mp.nstr(theta(m, u), 17)}")
    for m in (3, 5, 7, 9, 13):
        c = backward_error_series(m)
        print(f"c_{2 * m + 1} (m={m}) = {mp.nstr(c[2 * m + 1], 17)}  1/c = {mp.nstr(1 / c[2 * m + 1], 25)}")
