//! Lion: the sign of an interpolated momentum (Chen et al., 2023, "Symbolic Discovery of
//! Optimization Algorithms", Program 1 and Algorithm 2).
//!
//! c ← ρ₁m + (1 − ρ₁)g; θ ← θ − ε(sign(c) + λθ); m ← ρ₂m + (1 − ρ₂)g, with ρ₁ = 0.9, ρ₂ = 0.99,
//! ε = 1e-4 and decoupled weight decay λ (0 by default). Every coordinate moves by exactly ε
//! (or 0 where c = 0, as `jnp.sign` gives), so the rate is typically 3–10× smaller than AdamW's
//! and λ 3–10× larger, as the paper advises.
//!
//! **Conventions:** PyTorch has no Lion, so both conventions run the paper's Program 1; the
//! weight decay is applied as θ ← θ(1 − ελ) before the signed step, which is the paper's
//! θ − ε(sign(c) + λθ) up to rounding. Optax's `lion` is the same rule.

use super::{check_unit_interval, with_prep, GradientPrep, Kernel, Prepare, StepContext, UpdateRule};
use crate::error::ConfigError;
use crate::Float;

/// Hyperparameters of Lion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LionConfig {
    /// β₁: weight of the momentum in the interpolation whose sign is the step.
    pub beta1: f64,
    /// β₂: decay of the momentum itself.
    pub beta2: f64,
}

impl LionConfig {
    /// The paper's defaults: β₁ = 0.9, β₂ = 0.99.
    pub fn new() -> Self {
        LionConfig { beta1: 0.9, beta2: 0.99 }
    }

    /// Checks every field, naming the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_unit_interval("beta1", self.beta1)?;
        check_unit_interval("beta2", self.beta2)
    }
}

impl Default for LionConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// One prepared Lion step.
#[derive(Debug, Clone, Copy)]
pub struct LionKernel<F> {
    prep: GradientPrep<F>,
    decay_factor: F,
    beta1: F,
    one_minus_beta1: F,
    beta2: F,
    one_minus_beta2: F,
    lr: F,
}

/// sign(x): ±1, and x itself for ±0 and NaN (so NaN stays visible).
#[inline(always)]
fn sign<F: Float>(x: F) -> F {
    if x > F::ZERO {
        F::ONE
    } else if x < F::ZERO {
        -F::ONE
    } else {
        x
    }
}

impl UpdateRule for LionConfig {
    type Kernel<F: Float> = LionKernel<F>;

    fn state_buffers(&self) -> Vec<(&'static str, f64)> {
        vec![("exp_avg", 0.0)]
    }

    fn prepare<F: Float>(&self, context: &StepContext<'_>) -> LionKernel<F> {
        LionKernel {
            prep: context.clip_only_prep(),
            decay_factor: F::from_f64(1.0 - context.lr * context.weight_decay),
            beta1: F::from_f64(self.beta1),
            one_minus_beta1: F::from_f64(1.0 - self.beta1),
            beta2: F::from_f64(self.beta2),
            one_minus_beta2: F::from_f64(1.0 - self.beta2),
            lr: F::from_f64(context.lr),
        }
    }
}

impl<F: Float> LionKernel<F> {
    #[inline(always)]
    fn run<P: Prepare<F>>(&self, prep: P, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        let [exp_avg] = state else { unreachable!("lion keeps one state buffer") };
        for ((p, &g), m) in params.iter_mut().zip(grads).zip(exp_avg.iter_mut()) {
            let g = prep.apply(g, *p);
            let c = self.one_minus_beta1.mul_add(g, self.beta1 * *m);
            *p = (-self.lr).mul_add(sign(c), *p * self.decay_factor);
            *m = self.one_minus_beta2.mul_add(g, self.beta2 * *m);
        }
    }
}

impl<F: Float> Kernel<F> for LionKernel<F> {
    #[inline(always)]
    fn apply(&self, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        with_prep!(self.prep, |prep| self.run(prep, params, grads, state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_steps;
    use crate::Optimizer;

    #[test]
    fn first_three_steps_from_the_paper_by_hand() {
        // Program 1 with β₁ = 0.9, β₂ = 0.99, ε = 0.01, λ = 0.5, θ₀ = (1, −2), in f64:
        // g₁ = (0.3, 0): c = 0.1·g = (0.03, 0) → sign (1, 0);
        //   θ₁ = θ₀ − 0.01(sign + 0.5θ₀) = (1 − 0.015, −2 + 0.01) = (0.985, −1.99); m₁ = 0.01g₁ = (0.003, 0).
        // g₂ = (−0.02, 1): c = 0.9·0.003 − 0.002 = 0.0007 > 0 and 0.1 → sign (1, 1);
        //   θ₂ = (0.985 − 0.01(1 + 0.4925), −1.99 − 0.01(1 − 0.995)); m₂ = (0.99·0.003 − 0.0002, 0.01).
        // g₃ = (−0.1, −0.05): c = 0.9·0.00277 − 0.01 < 0 and 0.009 − 0.005 > 0 → sign (−1, 1).
        let gradients = [[0.3, 0.0], [-0.02, 1.0], [-0.1, -0.05]];
        let mut optimizer = Optimizer::<f64>::new(LionConfig::new().into()).unwrap().with_weight_decay(0.5).unwrap();
        let mut theta = [1.0, -2.0];
        let mut path = Vec::new();
        for g in &gradients {
            optimizer.step(&mut theta, g, 0.01).unwrap();
            path.push(theta);
        }
        let theta1 = [0.985, -1.99];
        let theta2 = [0.985 - 0.01 * (1.0 + 0.4925), -1.99 - 0.01 * (1.0 - 0.995)];
        let theta3 = [theta2[0] - 0.01 * (-1.0 + 0.5 * theta2[0]), theta2[1] - 0.01 * (1.0 + 0.5 * theta2[1])];
        for (got, want) in path.iter().zip([theta1, theta2, theta3]) {
            assert!((got[0] - want[0]).abs() < 1e-15 && (got[1] - want[1]).abs() < 1e-15, "{got:?} vs {want:?}");
        }
        let (name, m) = optimizer.state_buffers().next().unwrap();
        // Checkpoints store the buffer as optimizer.exp_avg, PyTorch's name for it.
        assert_eq!(name, "exp_avg");
        let m2 = [0.99 * 0.003 - 0.0002, 0.01];
        let m3 = [0.99 * m2[0] - 0.001, 0.99 * m2[1] - 0.0005];
        assert!((m[0] - m3[0]).abs() < 1e-17 && (m[1] - m3[1]).abs() < 1e-17, "{m:?} vs {m3:?}");
    }

    #[test]
    fn every_coordinate_moves_by_exactly_the_rate() {
        // Without decay, Δθ = −ε·sign(g) wherever c ≠ 0, whatever the gradient's size.
        let path = run_steps(LionConfig::new(), &[0.0, 0.0, 0.0], |_| vec![1e-12, -5e6, 0.0], 0.125, 2);
        assert_eq!(path[1], vec![-0.25, 0.25, 0.0]);
    }
}
