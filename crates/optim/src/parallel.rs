//! Splitting a step over threads without allocating.
//!
//! A flat buffer and its state buffers are cut in halves recursively (with `rayon::join`) until a
//! piece is at most [`CHUNK`] elements long; the kernel then runs on each piece. The cut points
//! depend only on the length, never on the number of threads, so results (including reductions,
//! which are summed in a fixed tree) are the same for any thread count.

use crate::algorithms::Kernel;
use crate::Float;

/// The most state buffers one algorithm keeps per parameter (AMSGrad: three).
pub const MAX_STATE: usize = 4;

/// Elements per leaf piece: large enough that a task costs far more than scheduling it, small
/// enough that two threads share the work of a million-parameter model evenly.
pub const CHUNK: usize = 1 << 15;

/// The state buffers of one piece, as mutable views; unused entries are empty.
pub type StateViews<'a, F> = [&'a mut [F]; MAX_STATE];

/// Runs `kernel(params, grads, state)` over pieces of the buffers, in parallel.
///
/// `state` holds `used` views, each as long as `params`.
pub fn for_each_piece<F, K>(params: &mut [F], grads: &[F], state: StateViews<'_, F>, used: usize, kernel: &K)
where
    F: Float,
    K: Fn(&mut [F], &[F], &mut [&mut [F]]) + Sync,
{
    let len = params.len();
    if len <= CHUNK {
        let mut state = state;
        kernel(params, grads, &mut state[..used]);
        return;
    }
    let mid = split_point(len);
    let (params_left, params_right) = params.split_at_mut(mid);
    let (grads_left, grads_right) = grads.split_at(mid);
    let mut left: StateViews<'_, F> = Default::default();
    let mut right: StateViews<'_, F> = Default::default();
    for (index, view) in state.into_iter().take(used).enumerate() {
        let (a, b) = view.split_at_mut(mid);
        left[index] = a;
        right[index] = b;
    }
    rayon::join(
        || for_each_piece(params_left, grads_left, left, used, kernel),
        || for_each_piece(params_right, grads_right, right, used, kernel),
    );
}

/// Runs an algorithm's `kernel` on one piece, compiled for AVX2 and FMA where the CPU has them:
/// a build for an older baseline (`x86-64-v2`, so that the binary starts on any x86-64 CPU of the
/// last 15 years) would otherwise compute every fused multiply-add in software, several times
/// slower. The kernels' `apply` is `#[inline(always)]`, so it is compiled into each version.
#[inline(always)]
pub fn apply_kernel<F: Float, K: Kernel<F>>(kernel: &K, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
    #[cfg(target_arch = "x86_64")]
    if !cfg!(target_feature = "fma") && fma_available() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { apply_kernel_fma(kernel, params, grads, state) };
    }
    kernel.apply(params, grads, state)
}

/// Whether the CPU has AVX2 and FMA (the standard library caches the answer).
#[cfg(target_arch = "x86_64")]
pub(crate) fn fma_available() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// [`apply_kernel`] compiled with AVX2 and FMA enabled.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn apply_kernel_fma<F: Float, K: Kernel<F>>(kernel: &K, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
    kernel.apply(params, grads, state)
}

/// Σ xᵢ² accumulated in f64, over the same fixed tree of pieces (deterministic for any thread count).
pub fn sum_of_squares<F: Float>(values: &[F]) -> f64 {
    if values.len() <= CHUNK {
        // Eight independent accumulators let the compiler vectorize the sum.
        let mut lanes = [0.0f64; 8];
        let mut chunks = values.chunks_exact(8);
        for chunk in &mut chunks {
            for (lane, &x) in lanes.iter_mut().zip(chunk) {
                let x = x.to_f64();
                *lane += x * x;
            }
        }
        let tail: f64 = chunks.remainder().iter().map(|&x| x.to_f64() * x.to_f64()).sum();
        return lanes.iter().sum::<f64>() + tail;
    }
    let (left, right) = values.split_at(split_point(values.len()));
    let (a, b) = rayon::join(|| sum_of_squares(left), || sum_of_squares(right));
    a + b
}

/// True if no value is NaN or ±∞, over the same tree of pieces. Cheaper than
/// `sum_of_squares(values).is_finite()`: 0·x is ±0 for every finite x and NaN otherwise, summed
/// in F over sixteen lanes the compiler vectorizes, with no conversion and no overflow.
pub fn all_finite<F: Float>(values: &[F]) -> bool {
    if values.len() <= CHUNK {
        let mut lanes = [F::ZERO; 16];
        let mut chunks = values.chunks_exact(16);
        for chunk in &mut chunks {
            for (lane, &x) in lanes.iter_mut().zip(chunk) {
                *lane += x * F::ZERO;
            }
        }
        return lanes.iter().chain(chunks.remainder()).all(|&x| x.is_finite());
    }
    let (left, right) = values.split_at(split_point(values.len()));
    let (a, b) = rayon::join(|| all_finite(left), || all_finite(right));
    a && b
}

/// Where to cut a buffer longer than one piece: at a whole number of pieces near the middle.
fn split_point(len: usize) -> usize {
    let pieces = len.div_ceil(CHUNK);
    (pieces / 2).max(1) * CHUNK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_element_visited_once_and_state_aligned() {
        let n = 3 * CHUNK + 17;
        let mut params = vec![0.0f64; n];
        let grads: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let mut a = vec![0.0f64; n];
        let mut views: StateViews<'_, f64> = Default::default();
        views[0] = &mut a;
        for_each_piece(&mut params, &grads, views, 1, &|p, g, s| {
            for ((p, g), a) in p.iter_mut().zip(g).zip(s[0].iter_mut()) {
                *p += 1.0;
                *a = *g;
            }
        });
        assert!(params.iter().all(|&p| p == 1.0));
        assert_eq!(a, grads);
    }

    #[test]
    fn all_finite_finds_one_bad_value_anywhere() {
        let n = 3 * CHUNK + 5;
        // Values whose squares overflow f32 are still finite.
        let mut values = vec![3e38f32; n];
        assert!(all_finite(&values));
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            for at in [0, 17, CHUNK + 3, n - 1] {
                values[at] = bad;
                assert!(!all_finite(&values), "{bad} at {at}");
                values[at] = -3e38;
            }
        }
        assert!(all_finite::<f64>(&[]));
    }

    #[test]
    fn sum_of_squares_matches_closed_form_and_is_thread_independent() {
        // Σ_{i<n} i² = (n−1)n(2n−1)/6, exact in f64 for this n.
        let n = 5 * CHUNK + 3;
        let values: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let expected = ((n - 1) * n * (2 * n - 1) / 6) as f64;
        let pool = |threads| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        assert!((pool(1).install(|| sum_of_squares(&values)) - expected).abs() / expected < 1e-12);
        // Values with full mantissas and one huge value near a cut, so that which terms share a
        // partial sum with it decides how many are rounded away: a cut that moved with the
        // thread count would change the result, not only its last bit.
        let mut values: Vec<f64> = (0..n).map(|i| (i as f64 * 0.618_033_988_7).sin() * 1.7).collect();
        values[3 * CHUNK - 5] = 1e8;
        let sums: Vec<u64> =
            [1, 2, 3, 4].iter().map(|&t| pool(t).install(|| sum_of_squares(&values)).to_bits()).collect();
        assert!(sums.iter().all(|&s| s == sums[0]), "{sums:?}");
        // And it is the sum: against a sequential sum in f64 (rounded at each of the n terms).
        let sequential: f64 = values.iter().map(|v| v * v).sum();
        assert!((f64::from_bits(sums[0]) - sequential).abs() < n as f64 * f64::EPSILON * sequential);
    }
}
