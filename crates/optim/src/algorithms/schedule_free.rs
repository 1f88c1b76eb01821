//! Schedule-free AdamW (Defazio, Yang, Mehta, Mishchenko, Khaled & Cutkosky, 2024, "The Road
//! Less Scheduled", Algorithm 1): no decay schedule, because the iterate evaluated is an average.
//!
//! Three sequences: z (the base, SGD-like steps), x (a weighted average of z: the point to
//! evaluate and return) and y (the interpolation where gradients are taken), with z₁ = x₁ = θ₀:
//! - yₜ = (1 − β₁)zₜ + β₁xₜ; gₜ = ∇f(yₜ); vₜ = β₂vₜ₋₁ + (1 − β₂)gₜ²;
//! - γₜ = ε√(1 − β₂ᵗ) (ε from the schedule, so a warmup is `warmup:N+constant`);
//! - zₜ₊₁ = zₜ − γₜ·gₜ/(√vₜ + δ) − γₜλyₜ (decoupled decay, taken at y);
//! - cₜ₊₁ = γₜ²/Σᵢ≤ₜγᵢ²; xₜ₊₁ = (1 − cₜ₊₁)xₜ + cₜ₊₁zₜ₊₁.
//!
//! The parameter buffer holds y (where training takes gradients); x is a state buffer that
//! [`Optimizer::swap_evaluation_point`](crate::Optimizer::swap_evaluation_point) exchanges with
//! the parameters for evaluation (exactly, and back). Defaults as the authors' `AdamWScheduleFree`:
//! ε = 0.0025, β₁ = 0.9, β₂ = 0.999, δ = 1e-8.
//!
//! **Conventions:** neither the chapter nor PyTorch has it; both run the paper's Algorithm 1.
//! The authors' reference code weights the average by the largest γ so far (`lr_max²`) rather
//! than γₜ², which is the same while γₜ grows (as √(1 − β₂ᵗ) makes it under a constant rate).

use super::UpdateRule;
use super::{check_non_negative, check_unit_interval, with_prep, GradientPrep, Kernel, Prepare, StepContext};
use crate::error::ConfigError;
use crate::Float;

/// Hyperparameters of schedule-free AdamW.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleFreeConfig {
    /// β₁: where y lies between z (0) and x (1).
    pub beta1: f64,
    /// β₂: decay of the second moment.
    pub beta2: f64,
    /// δ: added to √v.
    pub eps: f64,
}

impl ScheduleFreeConfig {
    /// The authors' defaults: β₁ = 0.9, β₂ = 0.999, δ = 1e-8.
    pub fn new() -> Self {
        ScheduleFreeConfig { beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }

    /// Checks every field, naming the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_unit_interval("beta1", self.beta1)?;
        check_unit_interval("beta2", self.beta2)?;
        check_non_negative("eps", self.eps)
    }

    /// γₜ for base rate `lr` at step t.
    fn gamma(&self, step: u64, lr: f64) -> f64 {
        lr * (1.0 - self.beta2.powf(step as f64)).sqrt()
    }
}

impl Default for ScheduleFreeConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The index of the state buffer holding x, the point to evaluate.
pub const AVERAGE_BUFFER: usize = 2;

/// One prepared step.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleFreeKernel<F> {
    prep: GradientPrep<F>,
    first: bool,
    beta1: F,
    one_minus_beta1: F,
    beta2: F,
    one_minus_beta2: F,
    eps: F,
    neg_gamma: F,
    decay: F,
    average_weight: F,
}

impl UpdateRule for ScheduleFreeConfig {
    type Kernel<F: Float> = ScheduleFreeKernel<F>;

    fn state_buffers(&self) -> Vec<(&'static str, f64)> {
        vec![("z", 0.0), ("exp_avg_sq", 0.0), ("x", 0.0)]
    }

    fn scalar_state(&self) -> Vec<(&'static str, f64)> {
        vec![("lr_squared_sum", 0.0), ("average_weight", 0.0)]
    }

    fn advance(&self, step: u64, lr: f64, scalars: &mut [f64]) {
        let gamma = self.gamma(step, lr);
        scalars[0] += gamma * gamma;
        // c = γₜ²/Σγᵢ²; 1 when every rate so far was 0 (then z = x and it does not matter).
        scalars[1] = if scalars[0] > 0.0 { gamma * gamma / scalars[0] } else { 1.0 };
    }

    fn evaluation_buffer(&self) -> Option<usize> {
        Some(AVERAGE_BUFFER)
    }

    fn prepare<F: Float>(&self, context: &StepContext<'_>) -> ScheduleFreeKernel<F> {
        let gamma = self.gamma(context.step, context.lr);
        ScheduleFreeKernel {
            prep: context.clip_only_prep(),
            first: context.step == 1,
            beta1: F::from_f64(self.beta1),
            one_minus_beta1: F::from_f64(1.0 - self.beta1),
            beta2: F::from_f64(self.beta2),
            one_minus_beta2: F::from_f64(1.0 - self.beta2),
            eps: F::from_f64(self.eps),
            neg_gamma: F::from_f64(-gamma),
            decay: F::from_f64(context.weight_decay),
            average_weight: F::from_f64(context.scalars[1]),
        }
    }
}

impl<F: Float> ScheduleFreeKernel<F> {
    #[inline(always)]
    fn run<P: Prepare<F>>(&self, prep: P, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        let [z, v, x] = state else { unreachable!("schedule-free keeps three state buffers") };
        for (((y, &g), (z, v)), x) in params.iter_mut().zip(grads).zip(z.iter_mut().zip(v.iter_mut())).zip(x.iter_mut())
        {
            if self.first {
                (*z, *x) = (*y, *y);
            }
            let g = prep.apply(g, *y);
            *v = (self.one_minus_beta2 * g).mul_add(g, *v * self.beta2);
            *z = self.neg_gamma.mul_add(g / (v.sqrt() + self.eps) + self.decay * *y, *z);
            *x = self.average_weight.mul_add(*z - *x, *x);
            *y = self.one_minus_beta1.mul_add(*z, self.beta1 * *x);
        }
    }
}

impl<F: Float> Kernel<F> for ScheduleFreeKernel<F> {
    #[inline(always)]
    fn apply(&self, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        with_prep!(self.prep, |prep| self.run(prep, params, grads, state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Optimizer;

    #[test]
    fn first_two_steps_of_algorithm_1_by_hand() {
        // f = θ²/2 + θ (g = y + 1) from θ₀ = 1, ε = 0.1, λ = 0.5, in f64 from the paper:
        // t = 1: y₁ = 1, g₁ = 2, v₁ = 0.001·4, γ₁ = 0.1√0.001; z₂ = 1 − γ₁(2/(√0.004 + δ) + 0.5);
        //        c₂ = 1, x₂ = z₂; y₂ = 0.1z₂ + 0.9x₂ = z₂.
        // t = 2: g₂ = y₂ + 1, v₂ = 0.999v₁ + 0.001g₂², γ₂ = 0.1√(1 − 0.999²);
        //        z₃ = z₂ − γ₂(g₂/(√v₂ + δ) + 0.5y₂); c₃ = γ₂²/(γ₁² + γ₂²); x₃ = (1 − c₃)x₂ + c₃z₃;
        //        y₃ = 0.1z₃ + 0.9x₃.
        let (lr, lambda, delta) = (0.1f64, 0.5, 1e-8);
        let gamma1 = lr * 0.001f64.sqrt();
        let v1 = 0.004;
        let z2 = 1.0 - gamma1 * (2.0 / (v1.sqrt() + delta) + lambda);
        let (x2, y2) = (z2, z2);
        let g2 = y2 + 1.0;
        let v2 = 0.999 * v1 + 0.001 * g2 * g2;
        let gamma2 = lr * (1.0 - 0.999f64 * 0.999).sqrt();
        let z3 = z2 - gamma2 * (g2 / (v2.sqrt() + delta) + lambda * y2);
        let c3 = gamma2 * gamma2 / (gamma1 * gamma1 + gamma2 * gamma2);
        let x3 = (1.0 - c3) * x2 + c3 * z3;
        let y3 = 0.1 * z3 + 0.9 * x3;

        let mut optimizer =
            Optimizer::<f64>::new(ScheduleFreeConfig::new().into()).unwrap().with_weight_decay(lambda).unwrap();
        let mut theta = [1.0];
        let g = [theta[0] + 1.0];
        optimizer.step(&mut theta, &g, lr).unwrap();
        assert!((theta[0] - y2).abs() < 1e-15, "{} vs {y2}", theta[0]);
        let g = [theta[0] + 1.0];
        optimizer.step(&mut theta, &g, lr).unwrap();
        assert!((theta[0] - y3).abs() < 1e-15, "{} vs {y3}", theta[0]);
        // The evaluation point is x, exchanged exactly and back.
        optimizer.swap_evaluation_point(&mut theta);
        assert!((theta[0] - x3).abs() < 1e-15, "{} vs {x3}", theta[0]);
        let x_bits = theta[0].to_bits();
        optimizer.swap_evaluation_point(&mut theta);
        assert!((theta[0] - y3).abs() < 1e-15);
        optimizer.swap_evaluation_point(&mut theta);
        assert_eq!(theta[0].to_bits(), x_bits);
    }

    #[test]
    fn steps_at_rate_zero_leave_every_sequence_at_the_start() {
        // γₜ = 0, so Σγ² = 0 and c = γ²/Σγ² is 0/0: the rule takes c = 1 (z = x = θ₀ then), and
        // y, z and x all stay at θ₀ (a warmup that starts at 0 does this).
        let mut optimizer = Optimizer::<f64>::new(ScheduleFreeConfig::new().into()).unwrap();
        let mut theta = [1.5, -2.0];
        for _ in 0..2 {
            optimizer.step(&mut theta, &[0.5, 1.0], 0.0).unwrap();
            assert_eq!(theta, [1.5, -2.0]);
        }
        optimizer.swap_evaluation_point(&mut theta);
        assert_eq!(theta, [1.5, -2.0]);
    }

    #[test]
    fn the_average_converges_on_a_noisy_quadratic_without_a_schedule() {
        // f = θ²/2 with gradient noise ±1 (alternating): at a constant rate the last iterate y
        // keeps rattling, while x, the average, settles much closer to the minimum at 0.
        let mut optimizer = Optimizer::<f64>::new(ScheduleFreeConfig::new().into()).unwrap();
        let mut theta = [3.0];
        for k in 0..4000 {
            let noise = if k % 2 == 0 { 1.0 } else { -1.0 };
            let g = [theta[0] + noise];
            optimizer.step(&mut theta, &g, 0.05).unwrap();
        }
        let y = theta[0].abs();
        optimizer.swap_evaluation_point(&mut theta);
        assert!(theta[0].abs() < 0.01 && theta[0].abs() < y, "x = {}, y = {y}", theta[0]);
    }
}
