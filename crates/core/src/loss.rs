//! Losses: the surrogate we minimize and, for classification, the 0-1 error we care about.
//!
//! Each returns the loss summed over the batch and writes ∂(mean loss)/∂output, so that a batch's
//! gradient is the gradient of its mean loss.

use descent_optim::Float;

/// Softmax cross-entropy (the negative log-likelihood of a categorical model), fused with the
/// softmax for stability: log Σ exp(zⱼ) is computed as m + log Σ exp(zⱼ − m), m = maxⱼ zⱼ.
/// The gradient is (softmax(z) − onehot(y))/batch.
///
/// Returns (Σ loss, number of correct predictions). `grad`, if given, receives the gradient.
pub fn softmax_cross_entropy<F: Float>(
    logits: &[F],
    labels: &[u32],
    classes: usize,
    mut grad: Option<&mut [F]>,
) -> (f64, usize) {
    let batch = labels.len();
    let scale = F::from_f64(1.0 / batch as f64);
    let (mut total, mut correct) = (0.0f64, 0usize);
    for (row, (z, &label)) in logits.chunks_exact(classes).zip(labels).enumerate() {
        let (mut best, mut best_index) = (z[0], 0);
        for (j, &value) in z.iter().enumerate().skip(1) {
            if value > best {
                (best, best_index) = (value, j);
            }
        }
        let sum: F = z.iter().map(|&value| (value - best).exp()).sum();
        let log_sum = best + sum.ln();
        total += (log_sum - z[label as usize]).to_f64();
        correct += usize::from(best_index == label as usize);
        if let Some(grad) = grad.as_deref_mut() {
            let out = &mut grad[row * classes..(row + 1) * classes];
            for (j, (g, &value)) in out.iter_mut().zip(z).enumerate() {
                let p = (value - log_sum).exp();
                *g = (if j == label as usize { p - F::ONE } else { p }) * scale;
            }
        }
    }
    (total, correct)
}

/// What a batch of outputs is trained against.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a, F> {
    /// Class labels: softmax cross-entropy, and the 0-1 error.
    Classes(&'a [u32]),
    /// Real values, `width` per example: ½‖o − t‖², and an example counts as right when every
    /// output is within [`VALUE_TOLERANCE`] of its target.
    Values(&'a [F]),
}

/// |o − t| at or below which a regression output counts as right (the adding problem's usual
/// success criterion, Hochreiter & Schmidhuber 1997).
pub const VALUE_TOLERANCE: f64 = 0.04;

/// The loss of `batch` rows of `width` outputs against `targets`: (Σ loss, examples right), and
/// the gradient of the mean loss into `grad` if given.
pub fn evaluate<F: Float>(
    outputs: &[F],
    targets: Targets<'_, F>,
    batch: usize,
    width: usize,
    grad: Option<&mut [F]>,
) -> (f64, usize) {
    let outputs = &outputs[..batch * width];
    match targets {
        Targets::Classes(labels) => softmax_cross_entropy(outputs, &labels[..batch], width, grad),
        Targets::Values(values) => {
            let values = &values[..batch * width];
            let total = mean_squared_error(outputs, values, batch, grad);
            let right = outputs
                .chunks_exact(width)
                .zip(values.chunks_exact(width))
                .filter(|(o, t)| o.iter().zip(*t).all(|(a, b)| (a.to_f64() - b.to_f64()).abs() <= VALUE_TOLERANCE))
                .count();
            (total, right)
        }
    }
}

/// Mean squared error ½‖y − t‖² per example (the regression / autoencoder surrogate). Returns
/// Σ loss; `grad` receives (y − t)/batch.
pub fn mean_squared_error<F: Float>(outputs: &[F], targets: &[F], batch: usize, grad: Option<&mut [F]>) -> f64 {
    let scale = F::from_f64(1.0 / batch as f64);
    let total: f64 = outputs.iter().zip(targets).map(|(&y, &t)| 0.5 * (y - t).to_f64().powi(2)).sum();
    if let Some(grad) = grad {
        grad.iter_mut().zip(outputs.iter().zip(targets)).for_each(|(g, (&y, &t))| *g = (y - t) * scale);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_by_hand() {
        // z = (0, ln 3): softmax = (1/4, 3/4); label 1 → loss −ln(3/4); prediction 1 is correct.
        let z = [0.0, 3f64.ln()];
        let mut grad = [0.0; 2];
        let (loss, correct) = softmax_cross_entropy(&z, &[1], 2, Some(&mut grad));
        assert!((loss + (0.75f64).ln()).abs() < 1e-15 && correct == 1);
        assert!((grad[0] - 0.25).abs() < 1e-15 && (grad[1] + 0.25).abs() < 1e-15);
    }

    #[test]
    fn cross_entropy_is_stable_for_huge_logits() {
        let (loss, _) = softmax_cross_entropy(&[1000.0f32, 0.0, -1000.0], &[1], 3, None);
        assert!((loss - 1000.0).abs() < 1e-3);
    }

    #[test]
    fn gradients_match_central_differences() {
        let z: Vec<f64> = (0..12).map(|i| (i as f64 * 0.7).sin() * 2.0).collect();
        let labels = [2, 0, 3];
        let mut grad = vec![0.0; 12];
        softmax_cross_entropy(&z, &labels, 4, Some(&mut grad));
        let targets: Vec<f64> = (0..12).map(|i| (i as f64).cos()).collect();
        let mut mse_grad = vec![0.0; 12];
        mean_squared_error(&z, &targets, 3, Some(&mut mse_grad));
        let h = 1e-6;
        for i in 0..12 {
            let (mut plus, mut minus) = (z.clone(), z.clone());
            plus[i] += h;
            minus[i] -= h;
            let ce = |v: &[f64]| softmax_cross_entropy(v, &labels, 4, None).0 / 3.0;
            assert!(((ce(&plus) - ce(&minus)) / (2.0 * h) - grad[i]).abs() < 1e-8);
            let mse = |v: &[f64]| mean_squared_error(v, &targets, 3, None) / 3.0;
            assert!(((mse(&plus) - mse(&minus)) / (2.0 * h) - mse_grad[i]).abs() < 1e-8);
        }
    }
}
