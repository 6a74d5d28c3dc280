"""Relative-error table of linflow.expm against scipy.linalg.expm and scipy.sparse.linalg.expm.

Each test matrix A (deterministic: numpy default_rng with fixed seeds, sizes <= 8) is
exponentiated by linflow.expm, scipy.linalg.expm and scipy.sparse.linalg.expm (called on the
dense ndarray), and each result X is compared with a reference R = exp(A) from
mpmath.expm at 60+ significant digits (more for large norms; every reference is checked
against a second one at 25 more digits). The error is the relative 1-norm error
||X - R||_1 / ||R||_1, with R kept as a double-double (hi + lo) so that errors below the
double rounding unit are still resolved. A second, shorter table does the same for float32 and
complex64 inputs, with errors in units of float32 eps.

The table and a summary are printed and written to benches/ACCURACY.md.

Run:  python benches/accuracy.py
"""

import datetime
import math
import platform
import statistics
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import linflow
import mpmath
import numpy as np
import scipy
import scipy.linalg
import scipy.sparse.linalg

OUT = Path(__file__).resolve().parent / "ACCURACY.md"
BASE_DPS = 60
CHECK_EXTRA_DPS = 25
REF_AGREEMENT = 1e-40  # two references must agree this closely (relative 1-norm)
REGRESSION_FACTOR = 4.0
REGRESSION_FLOOR = 1e-14
EPS32 = float(np.finfo(np.float32).eps)
LOW_PRECISION = (  # (case name, dtypes) for the float32 / complex64 section
    ("dense_n2_1e-02", (np.float32, np.complex64)),
    ("dense_n3_1e-01", (np.float32, np.complex64)),
    ("dense_n4_1e+00", (np.float32, np.complex64)),
    ("dense_n8_1e+00", (np.float32, np.complex64)),
    ("dense_n2_1e+01", (np.float32, np.complex64)),
    ("rot_theta_1", (np.float32, np.complex64)),
    ("skew3", (np.float32, np.complex64)),
    ("moler_1345", (np.float32, np.complex64)),
    ("burkardt10", (np.float32, np.complex64)),
    ("cplx_n4_1e+00", (np.complex64,)),
    ("cplx_n5_1e+01", (np.complex64,)),
)


@dataclass(frozen=True)
class Case:
    name: str
    category: str
    a: np.ndarray


# ----------------------------------------------------------------------------- test matrices


def norm1(a):
    """Matrix 1-norm (maximum absolute column sum)."""
    return float(np.abs(a).sum(axis=0).max())


def scaled(a, target):
    """`a` rescaled to 1-norm `target`."""
    return a * (target / norm1(a))


def random_dense(rng, n, target, complex_=False, max_abscissa=600.0):
    """Random normal-entry matrix with 1-norm `target`; redrawn (from the same rng) while the
    largest real part of its eigenvalues exceeds `max_abscissa`, so exp(A) fits in a double."""
    while True:
        a = rng.standard_normal((n, n))
        if complex_:
            a = a + 1j * rng.standard_normal((n, n))
        a = scaled(a, target)
        if np.linalg.eigvals(a).real.max() < max_abscissa:
            return a


def dense_cases():
    """Random dense float64 matrices, three sizes for each 1-norm 1e-3 .. 1e3."""
    rng = np.random.default_rng(20240501)
    sizes = [2, 3, 4, 5, 6, 7, 8]
    cases = []
    for i, target in enumerate([1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3]):
        for j in range(3):
            n = sizes[(3 * i + 2 * j) % len(sizes)]
            cases.append(Case(f"dense_n{n}_{target:.0e}", "dense", random_dense(rng, n, target)))
    return cases


def complex_cases():
    """Random dense complex128 matrices at several norms."""
    rng = np.random.default_rng(777)
    spec = [(3, 1e-2), (4, 1.0), (5, 10.0), (6, 100.0), (8, 1e3), (2, 30.0)]
    return [Case(f"cplx_n{n}_{t:.0e}", "complex", random_dense(rng, n, t, complex_=True)) for n, t in spec]


def nonnormal_cases():
    """Upper triangular, strongly non-normal matrices (overscaling traps)."""
    rng = np.random.default_rng(4242)
    up5 = np.triu(rng.standard_normal((5, 5)) * 1e3, 1) + np.diag(rng.standard_normal(5))
    up8 = np.triu(rng.standard_normal((8, 8)) * 1e2, 1) - np.diag(np.arange(1.0, 9.0))
    up6 = np.triu(rng.standard_normal((6, 6)) * 1e5, 1) + np.diag(rng.uniform(-0.1, 0.1, 6))
    return [
        Case("tri_1e8", "nonnormal", np.array([[1.0, 1e8], [0.0, 1.0 + 1e-10]])),
        Case("tri_1e4_neg", "nonnormal", np.array([[-1.0, 1e4], [0.0, -1.0001]])),
        Case("tri_overscale", "nonnormal", np.array([[1.0, 1e6], [0.0, -1.0]])),
        Case("tri_tiny_diag", "nonnormal", np.array([[1e-25, 4.5], [0.0, 1e-8]])),
        Case("tri_rand_n5", "nonnormal", up5),
        Case("tri_rand_n8", "nonnormal", up8),
        Case("tri_rand_n6_1e5", "nonnormal", up6),
    ]


def jordan(lam, n, off=1.0):
    """lam * I + off * N with N the nilpotent shift (ones on the superdiagonal)."""
    return lam * np.eye(n) + off * np.eye(n, k=1)


def jordan_cases():
    """Jordan blocks, nilpotent matrices and Jordan blocks with perturbed eigenvalues."""
    rng = np.random.default_rng(31337)
    pert8 = jordan(-1.0, 8, 10.0) + np.diag(1e-6 * rng.standard_normal(8))
    return [
        Case("jordan_n4_1", "jordan", jordan(1.0, 4)),
        Case("jordan_n6_-2_x3", "jordan", jordan(-2.0, 6, 3.0)),
        Case("nilpotent_n4_6", "jordan", jordan(0.0, 4, 6.0)),
        Case("jordan_n5_pert1e-8", "jordan", jordan(0.5, 5) + np.diag(1e-8 * np.arange(5.0))),
        Case("jordan_n8_pert1e-6", "jordan", pert8),
        Case("jordan_n4_cplx", "jordan", jordan(1.0 + 2.0j, 4, 2.0 - 1.0j)),
        Case("jordan_n3_-30", "jordan", jordan(-30.0, 3, 30.0)),
    ]


def rotation_cases():
    """Rotation generators theta * [[0, -1], [1, 0]] and a 3-D skew-symmetric matrix."""
    gen = np.array([[0.0, -1.0], [1.0, 0.0]])
    cases = [Case(f"rot_theta_{t:g}", "rotation", t * gen) for t in (0.1, 1.0, 10.0, 100.0)]
    w = np.array([1.0, -2.0, 3.0])
    skew = np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])
    cases.append(Case("skew3", "rotation", skew))
    return cases


def path_laplacian(n):
    """Graph Laplacian of the path on n vertices."""
    lap = 2.0 * np.eye(n) - np.eye(n, k=1) - np.eye(n, k=-1)
    lap[0, 0] = lap[-1, -1] = 1.0
    return lap


def companion(roots):
    """Companion matrix (ones on the subdiagonal, coefficients in the last column)."""
    coeffs = np.poly(roots)  # monic, highest degree first
    n = len(roots)
    c = np.eye(n, k=-1)
    c[:, -1] = -coeffs[:0:-1]
    return c


def frank(n):
    """Frank matrix: upper Hessenberg with ill-conditioned small eigenvalues."""
    i, j = np.indices((n, n))
    return np.where(j >= i - 1, n - np.maximum(i, j), 0).astype(float)


def classic_cases():
    """Small textbook matrices (Moler & Van Loan, Burkardt's expm test set, Ward)."""
    rng = np.random.default_rng(99)
    ward = np.array([[0.0, 1e-8, 0.0], [-(2e10 + 4e8 / 6.0), -3.0, 2e10], [200.0 / 3.0, 0.0, -200.0 / 3.0]])
    return [
        Case("moler_1345", "classic", np.array([[1.0, 3.0], [4.0, 5.0]])),
        Case("moler_vanloan", "classic", np.array([[-49.0, 24.0], [-64.0, 31.0]])),
        Case("laplace_path6_x-20", "classic", -20.0 * path_laplacian(6)),
        Case("companion_roots-1..-6", "classic", companion(-np.arange(1.0, 7.0))),
        Case("frank6", "classic", frank(6)),
        Case("burkardt8", "classic", np.array([[21.0, 17.0, 6.0], [-5.0, -1.0, -6.0], [4.0, 4.0, 16.0]])),
        Case("burkardt9", "classic", np.array([[1.0, 2, 2, 2], [3, 1, 1, 2], [3, 2, 1, 2], [3, 3, 3, 1]])),
        Case("burkardt10", "classic", np.array([[4.0, 2.0, 0.0], [1.0, 4.0, 1.0], [1.0, 1.0, 4.0]])),
        Case("burkardt12", "classic", np.array([[-131.0, 19, 18], [-390, 56, 54], [-387, 57, 52]])),
        Case("ward_3x3", "classic", ward),
        Case("tiny_norm_1e-12", "classic", scaled(rng.standard_normal((4, 4)), 1e-12)),
        Case("diag_mixed", "classic", np.diag([-300.0, -1.0, 0.0, 2.0, 50.0])),
    ]


def build_cases():
    """All test matrices, in table order."""
    cases = dense_cases() + nonnormal_cases() + jordan_cases() + complex_cases() + rotation_cases() + classic_cases()
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


# ----------------------------------------------------------------------------- reference


def mp_expm(a, dps):
    """exp(a) by mpmath at `dps` digits, as an mpmath matrix."""
    with mpmath.workdps(dps):
        entries = [[mpmath.mpmathify(complex(x) if np.iscomplexobj(a) else float(x)) for x in row] for row in a]
        return mpmath.expm(mpmath.matrix(entries))


def mp_rel_diff(x, y, dps):
    """Relative 1-norm difference ||x - y||_1 / ||y||_1 of two mpmath matrices."""
    with mpmath.workdps(dps):
        return float(mpmath.mnorm(x - y, 1) / mpmath.mnorm(y, 1))


def to_double_double(r, complex_):
    """mpmath matrix -> (hi, lo) numpy arrays with hi + lo = r to ~106 bits."""
    n = r.rows
    dtype = np.complex128 if complex_ else np.float64
    conv = complex if complex_ else float
    hi = np.empty((n, n), dtype)
    lo = np.empty((n, n), dtype)
    with mpmath.workdps(60):
        for i in range(n):
            for j in range(n):
                hi[i, j] = conv(r[i, j])
                lo[i, j] = conv(r[i, j] - hi[i, j])
    return hi, lo


@dataclass(frozen=True)
class Reference:
    hi: np.ndarray
    lo: np.ndarray
    dps: int
    self_check: float  # relative difference from the reference at CHECK_EXTRA_DPS more digits


def reference(a):
    """exp(a) at BASE_DPS + log10 ||a||_1 digits, raised until a +25-digit rerun agrees."""
    dps = BASE_DPS + max(0, math.ceil(math.log10(max(norm1(a), 1.0))))
    while True:
        r = mp_expm(a, dps)
        check = mp_expm(a, dps + CHECK_EXTRA_DPS)
        diff = mp_rel_diff(r, check, dps + CHECK_EXTRA_DPS)
        if diff < REF_AGREEMENT or dps > 400:
            hi, lo = to_double_double(check, np.iscomplexobj(a))
            return Reference(hi, lo, dps + CHECK_EXTRA_DPS, diff)
        dps += CHECK_EXTRA_DPS


def rel_err(x, ref):
    """Relative 1-norm error of x against the double-double reference."""
    diff = (np.asarray(x, dtype=ref.hi.dtype) - ref.hi) - ref.lo
    return norm1(diff) / norm1(ref.hi)


# ----------------------------------------------------------------------------- measurement

SOLVERS = {
    "linflow": linflow.expm,
    "scipy.linalg": scipy.linalg.expm,
    "scipy.sparse": scipy.sparse.linalg.expm,
}


def run_solver(fn, a):
    """fn(a), with overflow warnings silenced (an inf/nan result shows up as an inf error)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(a)


def errors_for(a, ref):
    """{solver name: relative error} for one matrix."""
    out = {}
    for name, fn in SOLVERS.items():
        err = rel_err(run_solver(fn, a), ref)
        out[name] = err if np.isfinite(err) else math.inf
    return out


def ratio(num, den):
    """num / den with 0/0 = 1 and x/0 = inf."""
    if den == 0.0:
        return 1.0 if num == 0.0 else math.inf
    return num / den


def measure(cases):
    """One result row per case."""
    rows = []
    for case in cases:
        ref = reference(case.a)
        errs = errors_for(case.a, ref)
        rows.append(
            {
                "case": case,
                "norm": norm1(case.a),
                "errs": errs,
                "ratio": ratio(errs["linflow"], errs["scipy.linalg"]),
                "ref": ref,
            }
        )
    return rows


def measure_low_precision(cases):
    """float32 / complex64 rows: errors in units of float32 eps."""
    by_name = {c.name: c for c in cases}
    rows = []
    for name, dtypes in LOW_PRECISION:
        case = by_name[name]
        for dtype in dtypes:
            a_low = case.a.astype(dtype)
            ref = reference(a_low.astype(np.complex128 if np.iscomplexobj(a_low) else np.float64))
            lin = run_solver(linflow.expm, a_low)
            sci = run_solver(scipy.linalg.expm, a_low)
            rows.append(
                {
                    "name": name,
                    "dtype": np.dtype(dtype).name,
                    "out": f"{lin.dtype.name}/{sci.dtype.name}",
                    "n": case.a.shape[0],
                    "norm": norm1(case.a),
                    "linflow": rel_err(lin, ref) / EPS32,
                    "scipy": rel_err(sci, ref) / EPS32,
                }
            )
    return rows


# ----------------------------------------------------------------------------- formatting


def fmt_err(e):
    """3.6e-13 style; exact zero prints 0."""
    if e == 0.0:
        return "0"
    if not math.isfinite(e):
        return "inf"
    return f"{e:.1e}"


def fmt_ratio(r):
    """Ratio with 3 significant digits."""
    return "inf" if not math.isfinite(r) else f"{r:.3g}"


def md_table(header, rows):
    """Markdown table lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return lines


def main_table(rows):
    """The main relative-error table."""
    header = ["matrix", "category", "n", "‖A‖₁", "linflow", "scipy.linalg", "scipy.sparse", "linflow/scipy.linalg"]
    body = [
        [
            r["case"].name,
            r["case"].category,
            r["case"].a.shape[0],
            f"{r['norm']:.3g}",
            fmt_err(r["errs"]["linflow"]),
            fmt_err(r["errs"]["scipy.linalg"]),
            fmt_err(r["errs"]["scipy.sparse"]),
            fmt_ratio(r["ratio"]),
        ]
        for r in rows
    ]
    return md_table(header, body)


def flagged(rows, other):
    """Rows where linflow's error exceeds REGRESSION_FACTOR x `other`'s and REGRESSION_FLOOR."""
    return [
        r
        for r in rows
        if r["errs"]["linflow"] > REGRESSION_FLOOR and ratio(r["errs"]["linflow"], r["errs"][other]) > REGRESSION_FACTOR
    ]


def flag_line(label, row):
    """One bullet with the three errors of a flagged row."""
    e = row["errs"]
    return (
        f"- {label}: `{row['case'].name}`: linflow {fmt_err(e['linflow'])}, scipy.linalg "
        f"{fmt_err(e['scipy.linalg'])}, scipy.sparse {fmt_err(e['scipy.sparse'])}"
    )


def summary(rows):
    """Summary lines: medians, maxima, better/equal/worse counts, worst ratio, regressions."""
    lines = ["## Summary", "", f"{len(rows)} matrices.", ""]
    stats = []
    for name in SOLVERS:
        col = [r["errs"][name] for r in rows]
        stats.append([name, fmt_err(statistics.median(col)), fmt_err(max(col))])
    ratios = [r["ratio"] for r in rows]
    stats.append(["ratio linflow/scipy.linalg", fmt_ratio(statistics.median(ratios)), fmt_ratio(max(ratios))])
    lines += md_table(["column", "median", "max"], stats) + [""]

    lin = [r["errs"]["linflow"] for r in rows]
    sci = [r["errs"]["scipy.linalg"] for r in rows]
    strict = (
        sum(a < b for a, b in zip(lin, sci)),
        sum(a == b for a, b in zip(lin, sci)),
        sum(a > b for a, b in zip(lin, sci)),
    )
    band = (sum(x < 0.5 for x in ratios), sum(0.5 <= x <= 2.0 for x in ratios), sum(x > 2.0 for x in ratios))
    lines.append(f"linflow vs scipy.linalg.expm, strictly: better {strict[0]}, equal {strict[1]}, worse {strict[2]}.")
    lines.append(f"Within a factor 2 counted as equal: better {band[0]}, equal {band[1]}, worse {band[2]}.")
    worst = max(rows, key=lambda r: r["ratio"])
    lines.append(
        f"Worst ratio linflow/scipy.linalg: {fmt_ratio(worst['ratio'])} on `{worst['case'].name}` "
        f"(linflow {fmt_err(worst['errs']['linflow'])}, scipy.linalg {fmt_err(worst['errs']['scipy.linalg'])})."
    )
    lines.append("")
    regressions = flagged(rows, "scipy.linalg")
    if not regressions:
        lines.append(
            f"No regression (linflow error > {REGRESSION_FACTOR:g}x scipy.linalg's and > {REGRESSION_FLOOR:.0e})."
        )
    lines += [flag_line("regression", r) for r in regressions]
    behind_sparse = flagged(rows, "scipy.sparse")
    lines += [
        "",
        f"Also noted: linflow error > {REGRESSION_FACTOR:g}x scipy.sparse's and > {REGRESSION_FLOOR:.0e}"
        + ("." if behind_sparse else ": none."),
    ]
    lines += [flag_line("behind scipy.sparse", r) for r in behind_sparse]
    worst_ref = max(r["ref"].self_check for r in rows)
    max_dps = max(r["ref"].dps for r in rows)
    lines += [
        "",
        (
            f"Reference self-check: largest relative difference between the two mpmath runs {worst_ref:.1e} "
            f"(reference digits up to {max_dps})."
        ),
    ]
    return lines


def low_precision_section(rows):
    """float32 / complex64 table and its summary line."""
    header = ["matrix", "input", "output (linflow/scipy)", "n", "‖A‖₁", "linflow err/eps32", "scipy.linalg err/eps32"]
    body = [
        [r["name"], r["dtype"], r["out"], r["n"], f"{r['norm']:.3g}", f"{r['linflow']:.3g}", f"{r['scipy']:.3g}"]
        for r in rows
    ]
    lin = [r["linflow"] for r in rows]
    sci = [r["scipy"] for r in rows]
    return [
        "## float32 and complex64",
        "",
        (
            "Input rounded to float32/complex64; the reference is exp of the rounded matrix (mpmath, as above). "
            f"Errors are relative 1-norm errors divided by float32 eps = {EPS32:.3g}."
        ),
        "",
        *md_table(header, body),
        "",
        (
            f"Median/max err/eps32: linflow {statistics.median(lin):.3g} / {max(lin):.3g}, "
            f"scipy.linalg {statistics.median(sci):.3g} / {max(sci):.3g}."
        ),
    ]


def header_lines(elapsed):
    """How the file was made."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return [
        "# expm accuracy: linflow vs scipy",
        "",
        (
            "Generated by `python benches/accuracy.py` "
            f"on {now}; numpy {np.__version__}, scipy {scipy.__version__}, mpmath {mpmath.__version__}, "
            f"linflow {linflow.__version__}, `uname -m` = {platform.machine()}; took {elapsed:.0f} s."
        ),
        "",
        (
            "Error = ||X - R||₁ / ||R||₁ with R = mpmath.expm(A) (Taylor, scaling and squaring) at "
            f">= {BASE_DPS + CHECK_EXTRA_DPS} digits, checked against a run {CHECK_EXTRA_DPS} digits lower, "
            "and held as a double-double so errors below double eps are resolved. scipy.sparse is "
            "scipy.sparse.linalg.expm called on the dense ndarray. Inputs are float64, or complex128 "
            "for complex matrices."
        ),
        "",
    ]


def main():
    start = time.perf_counter()
    cases = build_cases()
    rows = measure(cases)
    low = measure_low_precision(cases)
    body = main_table(rows) + [""] + summary(rows) + [""] + low_precision_section(low)
    text = "\n".join(header_lines(time.perf_counter() - start) + body) + "\n"
    OUT.write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
