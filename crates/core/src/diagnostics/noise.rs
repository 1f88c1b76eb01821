//! The gradient's signal-to-noise ratio over the diagnostic batch, from per-example gradients.
//!
//! With g_i the gradient of example i's loss and ḡ their mean over the n examples of the batch,
//!
//! SNR = ‖ḡ‖² / tr Σ,  Σ = 1/(n − 1) Σ_i (g_i − ḡ)(g_i − ḡ)ᵀ,
//!
//! the squared size of the mean gradient against the spread of one example's gradient around it.
//! A minibatch of m examples drawn from the same set has m·SNR (its noise shrinks as 1/m), so
//! 1/SNR is the batch size at which signal and noise are equal: McCandlish et al.'s (2018)
//! "simple noise scale" B_simple. Cockpit reports instead the mean over parameters of
//! ḡ_j²/Σ_jj; descent takes the ratio of the totals because a parameter whose gradient is zero
//! for every example (a dead ReLU unit's weights) makes that mean 0/0.

use descent_optim::Float;

use crate::curvature::dot;

/// ‖ḡ‖²/tr Σ for the `examples` per-example gradients that `per_example(i, out)` writes, with
/// `mean` their mean ḡ (the batch gradient) and `out` a buffer of the dimension. One pass, no
/// storage per example: tr Σ = Σ_i ‖g_i − ḡ‖²/(n − 1), accumulated in f64. NaN for fewer than
/// two examples.
pub fn gradient_snr<F: Float>(
    mean: &[F],
    examples: usize,
    per_example: &mut dyn FnMut(usize, &mut [F]),
    out: &mut [F],
) -> f64 {
    if examples < 2 {
        return f64::NAN;
    }
    let mut spread = 0.0;
    for index in 0..examples {
        per_example(index, out);
        spread += out.iter().zip(mean).map(|(&g, &m)| (g.to_f64() - m.to_f64()).powi(2)).sum::<f64>();
    }
    dot(mean, mean) / (spread / (examples - 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_gradients_by_hand() {
        // g = (1, 0), (0, 1), (2, 5): ḡ = (1, 2), ‖ḡ‖² = 5; deviations (0, −2), (−1, −1), (1, 3)
        // with squared norms 4 + 2 + 10 = 16, so tr Σ = 16/2 = 8 and SNR = 5/8.
        let gradients = [[1.0, 0.0], [0.0, 1.0], [2.0, 5.0]];
        let mut out = [0.0; 2];
        let snr = gradient_snr(&[1.0f64, 2.0], 3, &mut |i, g: &mut [f64]| g.copy_from_slice(&gradients[i]), &mut out);
        assert!((snr - 0.625).abs() < 1e-15, "{snr}");
        let single = gradient_snr(&[1.0f64, 2.0], 1, &mut |_, _: &mut [f64]| {}, &mut out);
        assert!(single.is_nan());
    }
}
