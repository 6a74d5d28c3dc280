//! The element types linflow computes with: `f32`, `f64`, `Complex<f32>` and `Complex<f64>`.
//!
//! [`Scalar`] is sealed: the algorithms carry precision-specific constants (Pade thresholds, unit
//! roundoff) and LAPACK bindings that exist for exactly these four types.

use std::fmt::{Debug, Display};
use std::ops::{AddAssign, DivAssign, MulAssign, Neg, SubAssign};

use ndarray::LinalgScalar;
use num_complex::Complex;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for num_complex::Complex<f32> {}
    impl Sealed for num_complex::Complex<f64> {}
}

/// The floating-point precision a scalar type computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// IEEE binary32: `f32` and `Complex<f32>`, unit roundoff `2^-24`.
    Single,
    /// IEEE binary64: `f64` and `Complex<f64>`, unit roundoff `2^-53`.
    Double,
}

/// A real or complex floating-point element: `f32`, `f64`, `Complex<f32>` or `Complex<f64>`.
///
/// # Example
///
/// ```
/// use linflow::Scalar;
/// use num_complex::Complex;
///
/// let z = Complex::new(0.0_f64, std::f64::consts::PI);
/// assert!((Scalar::exp(z) - Complex::new(-1.0, 0.0)).norm() < 1e-15);
/// assert_eq!(Scalar::modulus(Complex::new(3.0_f32, 4.0)), 5.0);
/// ```
pub trait Scalar:
    LinalgScalar
    + Send
    + Sync
    + Debug
    + Display
    + PartialEq
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + sealed::Sealed
{
    /// The real type of the same precision (`f32` for `Complex<f32>`).
    type Real: RealScalar;
    /// The precision this type computes in.
    const PRECISION: Precision;

    /// The scalar with real part `re` and zero imaginary part.
    fn from_real(re: Self::Real) -> Self;
    /// The scalar nearest to the `f64` value `x`.
    fn from_f64(x: f64) -> Self;
    /// The absolute value `|z|`.
    fn modulus(self) -> Self::Real;
    /// The product with a real number.
    fn scale(self, r: Self::Real) -> Self;
    /// `exp(z)`.
    fn exp(self) -> Self;
    /// `sinh(z)`.
    fn sinh(self) -> Self;
    /// True when every component is finite.
    fn is_finite(self) -> bool;
    /// The complex conjugate (the identity for real types).
    fn conj(self) -> Self;
    /// `self * b + c` with fused multiply-adds (one rounding per real component product pair).
    fn mul_add(self, b: Self, c: Self) -> Self;
    /// The real part.
    fn re(self) -> Self::Real;
    /// `self / d` without overflow or underflow in intermediate quantities: for complex numbers
    /// Smith's algorithm (the textbook `(a c + b d) / (c^2 + d^2)` overflows for `|d| > 1e154`
    /// and returned 0 for `6.5e16 / 2e251`, which made a nonsingular Pade denominator singular);
    /// plain division for real numbers.
    fn quotient(self, d: Self) -> Self;
    /// LU with partial pivoting of a column-major `n x n` matrix, in place (`P A = L U`, LAPACK's
    /// `ipiv`, 1-based). Returns LAPACK's `info` (0 on success, `> 0` for an exactly singular
    /// factor).
    ///
    /// Recursive (as LAPACK's `?getrf2`) with the large products split into panels whose number
    /// depends on `n` only, run on rayon's pool, each a single-threaded BLAS call: the bits of the
    /// factors do not depend on the number of threads (OpenBLAS's threaded `?getrf` rounds
    /// differently with its thread count).
    fn getrf(n: usize, a: &mut [Self], ipiv: &mut [i32]) -> i32 {
        crate::dense::lu_factor(n, a, ipiv)
    }
    /// Solves `A X = B` (no transpose) for `nrhs` columns of the column-major `B`, given the
    /// factors of [`Scalar::getrf`]. Returns LAPACK's `info`. The columns go in groups whose number
    /// depends on the sizes only, on rayon's pool; each group gets the row interchanges and two
    /// recursive triangular solves (products, with linflow's own substitution for 32-row leaves).
    fn getrs(n: usize, nrhs: usize, lu: &[Self], ipiv: &[i32], b: &mut [Self]) -> i32 {
        crate::dense::lu_solve(n, nrhs, lu, ipiv, b)
    }

    /// LAPACK `?getrf2` of the column-major `m x n` matrix at `a` (leading dimension `lda`).
    ///
    /// # Safety
    ///
    /// `a` addresses an `lda x n` column-major array with `lda >= m`, `ipiv` `min(m, n)` entries.
    #[doc(hidden)]
    unsafe fn getrf2_raw(m: usize, n: usize, a: *mut Self, lda: usize, ipiv: *mut i32) -> i32;
    /// LAPACK `?laswp`: the row interchanges `ipiv[k1 - 1..k2]` (1-based, as LAPACK) applied to
    /// the `ncols` columns at `a`.
    ///
    /// # Safety
    ///
    /// `a` addresses an `lda x ncols` column-major array whose rows include every `ipiv` entry.
    #[doc(hidden)]
    unsafe fn laswp_raw(
        ncols: usize,
        a: *mut Self,
        lda: usize,
        k1: usize,
        k2: usize,
        ipiv: *const i32,
    );
    /// LAPACK `?getrs` (no transpose) for the `n x nrhs` column-major `b` (leading dimension `n`).
    ///
    /// # Safety
    ///
    /// `lu` is `n x n`, `ipiv` `n` and `b` `n x nrhs`, column-major, not overlapping.
    #[doc(hidden)]
    unsafe fn getrs_raw(
        n: usize,
        nrhs: usize,
        lu: *const Self,
        ipiv: *const i32,
        b: *mut Self,
    ) -> i32;
}

/// `f32` or `f64`.
pub trait RealScalar: Scalar<Real = Self> + PartialOrd + num_traits::Float {
    /// Unit roundoff `u`: half the machine epsilon (`2^-24` or `2^-53`).
    const UNIT_ROUNDOFF: Self;
    /// The value as `f64` (exact).
    fn to_f64(self) -> f64;
}

fn lapack_dim(n: usize) -> i32 {
    // Callers pass matrix orders that came from allocated arrays; LAPACK takes i32.
    i32::try_from(n).expect("matrix order exceeds LAPACK's 32-bit index range")
}

macro_rules! impl_real {
    ($t:ty, $prec:expr, $getrf:path, $getrs:path, $laswp:path) => {
        impl Scalar for $t {
            type Real = $t;
            const PRECISION: Precision = $prec;
            #[inline]
            fn from_real(re: $t) -> Self {
                re
            }
            #[inline]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline]
            fn modulus(self) -> $t {
                self.abs()
            }
            #[inline]
            fn scale(self, r: $t) -> Self {
                self * r
            }
            #[inline]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline]
            fn sinh(self) -> Self {
                <$t>::sinh(self)
            }
            #[inline]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn mul_add(self, b: Self, c: Self) -> Self {
                <$t>::mul_add(self, b, c)
            }
            #[inline(always)]
            fn conj(self) -> Self {
                self
            }
            #[inline]
            fn re(self) -> $t {
                self
            }
            #[inline(always)]
            fn quotient(self, d: Self) -> Self {
                self / d
            }
            unsafe fn getrf2_raw(
                m: usize,
                n: usize,
                a: *mut Self,
                lda: usize,
                ipiv: *mut i32,
            ) -> i32 {
                let (m, n, lda) = (lapack_dim(m), lapack_dim(n), lapack_dim(lda));
                let mut info = 0;
                // SAFETY: the caller's contract.
                unsafe { $getrf(&m, &n, a, &lda, ipiv, &mut info) };
                info
            }
            unsafe fn laswp_raw(
                ncols: usize,
                a: *mut Self,
                lda: usize,
                k1: usize,
                k2: usize,
                ipiv: *const i32,
            ) {
                let (n, lda) = (lapack_dim(ncols), lapack_dim(lda));
                let (k1, k2) = (lapack_dim(k1), lapack_dim(k2));
                // SAFETY: the caller's contract.
                unsafe { $laswp(&n, a, &lda, &k1, &k2, ipiv, &1) };
            }
            unsafe fn getrs_raw(
                n: usize,
                nrhs: usize,
                lu: *const Self,
                ipiv: *const i32,
                b: *mut Self,
            ) -> i32 {
                let (n, nrhs) = (lapack_dim(n), lapack_dim(nrhs));
                let mut info = 0;
                // SAFETY: the caller's contract.
                unsafe {
                    $getrs(
                        &(b'N' as std::ffi::c_char),
                        &n,
                        &nrhs,
                        lu,
                        &n,
                        ipiv,
                        b,
                        &n,
                        &mut info,
                    )
                };
                info
            }
        }
        impl RealScalar for $t {
            const UNIT_ROUNDOFF: $t = <$t>::EPSILON / 2.0;
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    };
}

macro_rules! impl_complex {
    ($t:ty, $prec:expr, $getrf:path, $getrs:path, $laswp:path, $lapack_c:ty) => {
        impl Scalar for Complex<$t> {
            type Real = $t;
            const PRECISION: Precision = $prec;
            #[inline]
            fn from_real(re: $t) -> Self {
                Complex::new(re, 0.0)
            }
            #[inline]
            fn from_f64(x: f64) -> Self {
                Complex::new(x as $t, 0.0)
            }
            #[inline]
            fn modulus(self) -> $t {
                self.norm()
            }
            #[inline]
            fn scale(self, r: $t) -> Self {
                Complex::new(self.re * r, self.im * r)
            }
            #[inline]
            fn exp(self) -> Self {
                // exp(x + 0i) = e^x + 0i, also when e^x overflows: num-complex's polar form
                // multiplies e^x by sin(0) and gives inf + NaN i there (C99's cexp and numpy
                // keep the zero).
                if self.im == 0.0 {
                    Complex::new(self.re.exp(), self.im)
                } else {
                    Complex::exp(self)
                }
            }
            #[inline]
            fn sinh(self) -> Self {
                Complex::sinh(self)
            }
            #[inline]
            fn is_finite(self) -> bool {
                self.re.is_finite() && self.im.is_finite()
            }
            #[inline(always)]
            fn conj(self) -> Self {
                Complex::conj(&self)
            }
            #[inline(always)]
            fn mul_add(self, b: Self, c: Self) -> Self {
                Complex::new(
                    self.re.mul_add(b.re, (-self.im).mul_add(b.im, c.re)),
                    self.re.mul_add(b.im, self.im.mul_add(b.re, c.im)),
                )
            }
            #[inline]
            fn re(self) -> $t {
                self.re
            }
            #[inline]
            fn quotient(self, d: Self) -> Self {
                // Smith (1962): divide through by the larger of |Re d| and |Im d| first.
                let (a, b, c, e) = (self.re, self.im, d.re, d.im);
                if c.abs() >= e.abs() {
                    let r = e / c;
                    let den = c + e * r;
                    Complex::new((a + b * r) / den, (b - a * r) / den)
                } else {
                    let r = c / e;
                    let den = c * r + e;
                    Complex::new((a * r + b) / den, (b * r - a) / den)
                }
            }
            unsafe fn getrf2_raw(
                m: usize,
                n: usize,
                a: *mut Self,
                lda: usize,
                ipiv: *mut i32,
            ) -> i32 {
                let (m, n, lda) = (lapack_dim(m), lapack_dim(n), lapack_dim(lda));
                let mut info = 0;
                // SAFETY: the caller's contract; Complex<T> is repr(C) {re, im}, LAPACK's layout.
                unsafe { $getrf(&m, &n, a as *mut $lapack_c, &lda, ipiv, &mut info) };
                info
            }
            unsafe fn laswp_raw(
                ncols: usize,
                a: *mut Self,
                lda: usize,
                k1: usize,
                k2: usize,
                ipiv: *const i32,
            ) {
                let (n, lda) = (lapack_dim(ncols), lapack_dim(lda));
                let (k1, k2) = (lapack_dim(k1), lapack_dim(k2));
                // SAFETY: as for the real case.
                unsafe { $laswp(&n, a as *mut $lapack_c, &lda, &k1, &k2, ipiv, &1) };
            }
            unsafe fn getrs_raw(
                n: usize,
                nrhs: usize,
                lu: *const Self,
                ipiv: *const i32,
                b: *mut Self,
            ) -> i32 {
                let (n, nrhs) = (lapack_dim(n), lapack_dim(nrhs));
                let mut info = 0;
                // SAFETY: as for the real case.
                unsafe {
                    $getrs(
                        &(b'N' as std::ffi::c_char),
                        &n,
                        &nrhs,
                        lu as *const $lapack_c,
                        &n,
                        ipiv,
                        b as *mut $lapack_c,
                        &n,
                        &mut info,
                    )
                };
                info
            }
        }
    };
}

impl_real!(
    f32,
    Precision::Single,
    lapack_sys::sgetrf2_,
    lapack_sys::sgetrs_,
    lapack_sys::slaswp_
);
impl_real!(
    f64,
    Precision::Double,
    lapack_sys::dgetrf2_,
    lapack_sys::dgetrs_,
    lapack_sys::dlaswp_
);
impl_complex!(
    f32,
    Precision::Single,
    lapack_sys::cgetrf2_,
    lapack_sys::cgetrs_,
    lapack_sys::claswp_,
    lapack_sys::lapack_complex_float
);
impl_complex!(
    f64,
    Precision::Double,
    lapack_sys::zgetrf2_,
    lapack_sys::zgetrs_,
    lapack_sys::zlaswp_,
    lapack_sys::lapack_complex_double
);
