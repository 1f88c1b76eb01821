//! The scalar types the kernels run on: `f32` for training, `f64` for the 2-D lab and for tests.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub};

/// A floating-point element of a parameter buffer (`f32` or `f64`).
///
/// Hyperparameters and per-step coefficients are computed in `f64` (as PyTorch does in Python) and
/// converted once per step with [`Float::from_f64`]; the element-wise arithmetic then runs in `Self`.
pub trait Float:
    Copy
    + Send
    + Sync
    + Debug
    + Display
    + Default
    + PartialOrd
    + Sum
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + MulAssign
    + 'static
{
    /// 0.
    const ZERO: Self;
    /// The machine epsilon: the gap between 1 and the next larger number.
    const EPSILON: Self;
    /// 1.
    const ONE: Self;
    /// +∞, used as "no bound" so that kernels need no branch.
    const INFINITY: Self;
    /// Name of the type (`"f32"`, `"f64"`), for messages and file headers.
    const NAME: &'static str;
    /// Converts (rounding to nearest) from `f64`.
    fn from_f64(value: f64) -> Self;
    /// Converts exactly to `f64`.
    fn to_f64(self) -> f64;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// eˣ (the C library's; descent's vectorizable f32 version,
    /// [`exp_f32`](crate::exp::exp_f32), serves tanh).
    fn exp(self) -> Self;
    /// eˣ for the elementwise work of a network (the logistic function): for f32 descent's own
    /// vectorizable [`exp_f32`](crate::exp::exp_f32), within 1 ulp, instead of a C library call
    /// per element; for f64 the C library's.
    fn fast_exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Hyperbolic tangent (for f32, descent's own vectorizable version, within 1 ulp: see
    /// [`tanh_f32`](crate::tanh::tanh_f32)).
    fn tanh(self) -> Self;
    /// True unless NaN or ±∞.
    fn is_finite(self) -> bool;
    /// `self * a + b` with one rounding (a fused multiply-add: one instruction on CPUs with FMA,
    /// a correctly rounded software routine elsewhere, so results never depend on the build).
    fn mul_add(self, a: Self, b: Self) -> Self;
}

macro_rules! impl_float {
    ($t:ident, $exp:path, $fast_exp:path, $tanh:path) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const EPSILON: Self = $t::EPSILON;
            const ONE: Self = 1.0;
            const INFINITY: Self = $t::INFINITY;
            const NAME: &'static str = stringify!($t);
            #[inline(always)]
            fn from_f64(value: f64) -> Self {
                value as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $exp(self)
            }
            #[inline(always)]
            fn fast_exp(self) -> Self {
                $fast_exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $t::ln(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $tanh(self)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                $t::mul_add(self, a, b)
            }
        }
    };
}

impl_float!(f32, f32::exp, crate::exp::exp_f32, crate::tanh::tanh_f32);
impl_float!(f64, f64::exp, f64::exp, f64::tanh);

/// The larger of `a` and `b`, propagating NaN from either (as `torch.maximum` does).
#[inline(always)]
pub fn max_propagating_nan<F: Float>(a: F, b: F) -> F {
    #[allow(clippy::eq_op)] // `a != a` is the NaN test that also vectorizes
    let a_is_nan = a != a;
    if a_is_nan || a >= b {
        a
    } else {
        b
    }
}
