//! Losses: the surrogate we minimize and, for classification, the 0-1 error we care about.
//!
//! Each returns the loss summed over the batch and writes ∂(mean loss)/∂output, so that a batch's
//! gradient is the gradient of its mean loss.

use descent_optim::Float;
use serde::{Deserialize, Serialize};

pub use crate::data::Targets;

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

/// The surrogate a model minimizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// −log softmax(z)_y against class labels.
    SoftmaxCrossEntropy,
    /// Σᵢ −tᵢ log σ(zᵢ) − (1 − tᵢ) log(1 − σ(zᵢ)) against values in [0, 1] (Bernoulli
    /// likelihood of each output; the autoencoder's loss on pixel intensities).
    SigmoidCrossEntropy,
    /// ½‖o − t‖² against values.
    SquaredError,
}

/// What is judged, summed over examples (the reported error is its mean).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// 1 when the largest output is not the label (the 0-1 error).
    ZeroOne,
    /// 1 when some output is farther than the tolerance from its target.
    Within(f64),
    /// Σᵢ (ŷᵢ − tᵢ)², ŷ the model's prediction (σ(z) under the sigmoid loss): the summed squared
    /// reconstruction error of an autoencoder.
    SquaredError,
    /// The loss itself.
    Loss,
}

/// |o − t| at or below which a regression output counts as right (the adding problem's usual
/// success criterion, Hochreiter & Schmidhuber 1997).
pub const VALUE_TOLERANCE: f64 = 0.04;

/// What a [`Network`](crate::network::Network) is trained on: the loss of a batch of outputs
/// against their targets and the error that judges them. [`Objective`] is the library's; a loss
/// of your own (label smoothing, class weights) implements this and goes to
/// [`Network::with_criterion`](crate::network::Network::with_criterion).
pub trait Criterion<F: Float>: Send {
    /// The loss of `batch` rows of `width` outputs against `targets`: (Σ loss, Σ error), and the
    /// gradient of the **mean** loss with respect to the outputs into `grad` if given.
    fn evaluate(
        &self,
        outputs: &[F],
        targets: Targets<'_, F>,
        batch: usize,
        width: usize,
        grad: Option<&mut [F]>,
    ) -> (f64, f64);
}

impl<F: Float> Criterion<F> for Objective {
    fn evaluate(
        &self,
        outputs: &[F],
        targets: Targets<'_, F>,
        batch: usize,
        width: usize,
        grad: Option<&mut [F]>,
    ) -> (f64, f64) {
        Objective::evaluate(self, outputs, targets, batch, width, grad)
    }
}

/// A loss with the metric that judges it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    /// What is minimized.
    pub loss: Loss,
    /// What is reported as the error.
    pub metric: Metric,
}

impl Objective {
    /// Softmax cross-entropy judged by the 0-1 error.
    pub const CLASSIFY: Objective = Objective { loss: Loss::SoftmaxCrossEntropy, metric: Metric::ZeroOne };
    /// ½‖o − t‖², right within [`VALUE_TOLERANCE`].
    pub const REGRESS: Objective = Objective { loss: Loss::SquaredError, metric: Metric::Within(VALUE_TOLERANCE) };

    /// The objective targets of this kind are trained with by default: [`CLASSIFY`](Self::CLASSIFY)
    /// for classes, [`REGRESS`](Self::REGRESS) for values.
    pub fn for_targets<F>(targets: &Targets<'_, F>) -> Self {
        match targets {
            Targets::Classes(_) => Objective::CLASSIFY,
            Targets::Values(_) => Objective::REGRESS,
        }
    }

    /// The loss of `batch` rows of `width` outputs against `targets`: (Σ loss, Σ metric), and
    /// the gradient of the mean loss into `grad` if given.
    pub fn evaluate<F: Float>(
        &self,
        outputs: &[F],
        targets: Targets<'_, F>,
        batch: usize,
        width: usize,
        grad: Option<&mut [F]>,
    ) -> (f64, f64) {
        let outputs = &outputs[..batch * width];
        match (self.loss, targets) {
            (Loss::SoftmaxCrossEntropy, Targets::Classes(labels)) => {
                let (total, correct) = softmax_cross_entropy(outputs, &labels[..batch], width, grad);
                (total, (batch - correct) as f64)
            }
            (Loss::SoftmaxCrossEntropy, Targets::Values(_)) => {
                panic!("softmax cross-entropy needs class labels (a programming error in the model's set-up)")
            }
            (_, Targets::Classes(_)) => panic!("{:?} needs target values (a programming error)", self.loss),
            (loss, Targets::Values(values)) => {
                let values = &values[..batch * width];
                let total = match loss {
                    Loss::SigmoidCrossEntropy => sigmoid_cross_entropy(outputs, values, batch, grad),
                    _ => mean_squared_error(outputs, values, batch, grad),
                };
                let metric = match self.metric {
                    Metric::Loss => total,
                    Metric::Within(tolerance) => outputs
                        .chunks_exact(width)
                        .zip(values.chunks_exact(width))
                        .filter(|(o, t)| o.iter().zip(*t).any(|(a, b)| (a.to_f64() - b.to_f64()).abs() > tolerance))
                        .count() as f64,
                    Metric::SquaredError => {
                        let predict =
                            |z: F| if loss == Loss::SigmoidCrossEntropy { sigmoid(z.to_f64()) } else { z.to_f64() };
                        outputs.iter().zip(values).map(|(&z, &t)| (predict(z) - t.to_f64()).powi(2)).sum()
                    }
                    Metric::ZeroOne => outputs
                        .chunks_exact(width)
                        .zip(values.chunks_exact(width))
                        .filter(|(o, t)| argmax(o) != argmax(t))
                        .count() as f64,
                };
                (total, metric)
            }
        }
    }
}

/// The loss of `batch` rows against `targets` with the objective their kind is trained with by
/// default ([`Objective::for_targets`]).
pub fn evaluate<F: Float>(
    outputs: &[F],
    targets: Targets<'_, F>,
    batch: usize,
    width: usize,
    grad: Option<&mut [F]>,
) -> (f64, f64) {
    Objective::for_targets(&targets).evaluate(outputs, targets, batch, width, grad)
}

/// The index of the largest value (the first of equals).
fn argmax<F: Float>(values: &[F]) -> usize {
    values.iter().enumerate().fold(0, |best, (i, &v)| if v > values[best] { i } else { best })
}

/// σ(z) = 1/(1 + e⁻ᶻ), without overflow for large |z|.
fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Sigmoid cross-entropy summed over every output, computed from the logits z as
/// max(z, 0) − t·z + log(1 + e^(−|z|)), which neither overflows nor loses the small terms.
/// Returns Σ loss; `grad` receives (σ(z) − t)/batch.
pub fn sigmoid_cross_entropy<F: Float>(logits: &[F], targets: &[F], batch: usize, grad: Option<&mut [F]>) -> f64 {
    let total: f64 = logits
        .iter()
        .zip(targets)
        .map(|(&z, &t)| {
            let (z, t) = (z.to_f64(), t.to_f64());
            z.max(0.0) - t * z + (-z.abs()).exp().ln_1p()
        })
        .sum();
    if let Some(grad) = grad {
        let scale = F::from_f64(1.0 / batch as f64);
        descent_optim::elementwise::zip_map(grad, logits, targets, &SigmoidGradient { scale });
    }
    total
}

/// (σ(z) − t)·scale, the sigmoid cross-entropy's gradient, with σ computed without overflow.
struct SigmoidGradient<F> {
    scale: F,
}

impl<F: Float> descent_optim::elementwise::Map2<F> for SigmoidGradient<F> {
    #[inline(always)]
    fn apply(&self, z: F, t: F) -> F {
        let p = if z >= F::ZERO {
            F::ONE / (F::ONE + (-z).fast_exp())
        } else {
            let e = z.fast_exp();
            e / (F::ONE + e)
        };
        (p - t) * self.scale
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
    fn sigmoid_cross_entropy_by_hand() {
        // z = ln 3: σ = 3/4; t = 1/2 → loss −½ln(3/4) − ½ln(1/4) = ln 4 − ½ ln 3, gradient 1/4.
        // z = −1000, t = 0: loss log(1 + e⁻¹⁰⁰⁰) ≈ 0, not NaN; z = 1000, t = 0: loss 1000.
        let mut grad = [0.0; 3];
        let loss = sigmoid_cross_entropy(&[3f64.ln(), -1000.0, 1000.0], &[0.5, 0.0, 0.0], 1, Some(&mut grad));
        assert!((loss - (4f64.ln() - 0.5 * 3f64.ln() + 1000.0)).abs() < 1e-12, "{loss}");
        assert!((grad[0] - 0.25).abs() < 1e-15 && grad[1].abs() < 1e-300 && (grad[2] - 1.0).abs() < 1e-15);
        // The reconstruction error is measured on σ(z): (3/4 − 1/2)² + 0 + 1.
        let objective = Objective { loss: Loss::SigmoidCrossEntropy, metric: Metric::SquaredError };
        let (_, error) =
            objective.evaluate(&[3f64.ln(), -1000.0, 1000.0], Targets::Values(&[0.5, 0.0, 0.0]), 1, 3, None);
        assert!((error - 1.0625).abs() < 1e-12, "{error}");
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
            let pixels: Vec<f64> = targets.iter().map(|t| t.abs()).collect();
            let mut bce_grad = vec![0.0; 12];
            sigmoid_cross_entropy(&z, &pixels, 3, Some(&mut bce_grad));
            let bce = |v: &[f64]| sigmoid_cross_entropy(v, &pixels, 3, None) / 3.0;
            assert!(((bce(&plus) - bce(&minus)) / (2.0 * h) - bce_grad[i]).abs() < 1e-8);
        }
    }
}
