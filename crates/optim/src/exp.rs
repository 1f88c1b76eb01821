//! eˣ for f32 as straight-line arithmetic the compiler vectorizes, for [`tanh`](crate::tanh),
//! where the C library's call per element dominated a recurrent net's step. It covers the whole
//! f32 range so that it can serve elsewhere; `Float::exp` itself stays the C library's, whose
//! results the recorded training runs were measured with.
//!
//! eˣ = 2ᵏ·eʳ with k = round(x·log₂e) and r = x − k·ln 2 (ln 2 split in two, so that |r| ≤ ln 2 / 2
//! is accurate); eʳ by its Taylor series to r⁷ (relative error below 1e-8). 2ᵏ is applied as two
//! powers of two built from exponent bits, so that results down in the subnormal range round
//! once. Overflow gives +∞, underflow 0, and NaN stays NaN.

/// Above this, eˣ overflows f32 (ln of the largest f32 is 88.7228…).
const OVERFLOW: f32 = 88.8;
/// Below this, eˣ rounds to 0 (e^−104 is under half the smallest subnormal, 2⁻¹⁵⁰).
const UNDERFLOW: f32 = -104.0;

/// eˣ in f32 (see the module doc).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // ln 2 = LN2_HIGH + LN2_LOW, the first with few enough bits that k·LN2_HIGH is exact.
    const LN2_HIGH: f32 = 0.693_359_4;
    const LN2_LOW: f32 = -2.121_944_4e-4;
    const ROUNDING: f32 = 12_582_912.0; // 1.5·2²³: adding it rounds to an integer
    /// 1/n! for n = 7 down to 0: eʳ by Horner's rule.
    const INVERSE_FACTORIALS: [f32; 8] = [1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0];
    // `clamp` keeps NaN (where `min` and `max` would drop it).
    let x = x.clamp(UNDERFLOW, OVERFLOW);
    let k = (x * std::f32::consts::LOG2_E + ROUNDING) - ROUNDING;
    let r = k.mul_add(-LN2_LOW, k.mul_add(-LN2_HIGH, x));
    let sum = INVERSE_FACTORIALS.iter().fold(0.0f32, |p, &c| p.mul_add(r, c));
    // k is in [−150, 128]: each half is a normal power of two. (NaN gives k = 0; `sum` is NaN.)
    let k = k as i32;
    let half = k >> 1;
    let power = |e: i32| f32::from_bits(((e + 127) as u32) << 23);
    sum * power(half) * power(k - half)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::ulps;

    #[test]
    fn within_one_ulp_of_the_f64_exp_across_the_range() {
        // Every 61st f32 in [−104, 89), subnormal results included: about 35 million points.
        let mut worst = (0, 0.0f32);
        let mut check = |x: f32| {
            let error = ulps(exp_f32(x), (x as f64).exp() as f32);
            if error > worst.0 {
                worst = (error, x);
            }
        };
        for bits in (0..(-UNDERFLOW).to_bits()).step_by(61) {
            check(-f32::from_bits(bits));
        }
        for bits in (0..89.0f32.to_bits()).step_by(61) {
            check(f32::from_bits(bits));
        }
        assert!(worst.0 <= 1, "{} ulp at x = {}", worst.0, worst.1);
    }

    #[test]
    fn limits_and_special_values() {
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(88.8), f32::INFINITY);
        assert_eq!(exp_f32(1000.0), f32::INFINITY);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(-104.5), 0.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        for x in [88.72, 88.7228, -87.0, -100.0, -103.0] {
            assert!(ulps(exp_f32(x), (x as f64).exp() as f32) <= 1, "{x}");
        }
    }
}
