//! AdaMax: Adam with the infinity norm in place of the second moment (Kingma & Ba, 2014, §7.1,
//! Algorithm 2).
//!
//! **Book** (the chapter has no AdaMax; this is Kingma & Ba's Algorithm 2, with δ added to the
//! denominator as Optax's `adamax` adds it): s ← ρ₁s + (1 − ρ₁)g; u ← max(ρ₂u, |g|);
//! Δθ = −(ε/(1 − ρ₁ᵗ))·s/(u + δ), with ε = 2e-3, ρ₁ = 0.9, ρ₂ = 0.999, δ = 1e-8.
//!
//! **Torch** (`torch.optim.Adamax`): u ← max(ρ₂u, |g| + δ) (δ inside the maximum), then
//! θ ← θ − (ε/(1 − ρ₁ᵗ))·s/u, in PyTorch's operation order (`lerp`, `maximum`, `addcdiv`).
//!
//! **Why they differ:** only where δ goes. PyTorch's u never falls below δ, so a coordinate that
//! has always seen g = 0 stays put in both; once |g| ≫ δ they agree to rounding.

use super::{
    addcdiv, check_non_negative, check_unit_interval, lerp, lerp_form, with_prep, Convention, GradientPrep, Kernel,
    Prepare, StepContext, UpdateRule,
};
use crate::error::ConfigError;
use crate::float::max_propagating_nan;
use crate::Float;

/// Hyperparameters of AdaMax.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamaxConfig {
    /// ρ₁ (β₁): decay of the first moment.
    pub beta1: f64,
    /// ρ₂ (β₂): decay of the infinity norm.
    pub beta2: f64,
    /// δ: added to the denominator (book) or to |g| inside the maximum (torch).
    pub eps: f64,
    /// Whose formulas to follow.
    pub convention: Convention,
}

impl AdamaxConfig {
    /// Defaults: ρ₁ = 0.9, ρ₂ = 0.999, δ = 1e-8 (ε = 2e-3, set by the optimizer's name).
    pub fn new(convention: Convention) -> Self {
        AdamaxConfig { beta1: 0.9, beta2: 0.999, eps: 1e-8, convention }
    }

    /// Checks every field, naming the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_unit_interval("beta1", self.beta1)?;
        check_unit_interval("beta2", self.beta2)?;
        check_non_negative("eps", self.eps)
    }
}

impl Default for AdamaxConfig {
    fn default() -> Self {
        Self::new(Convention::Book)
    }
}

/// One prepared AdaMax step.
#[derive(Debug, Clone, Copy)]
pub struct AdamaxKernel<F> {
    prep: GradientPrep<F>,
    average_coefficient: F,
    average_from_end: bool,
    beta2: F,
    eps: F,
    neg_step_size: F,
    convention: Convention,
}

impl UpdateRule for AdamaxConfig {
    type Kernel<F: Float> = AdamaxKernel<F>;

    fn state_buffers(&self) -> Vec<(&'static str, f64)> {
        vec![("exp_avg", 0.0), ("exp_inf", 0.0)]
    }

    fn prepare<F: Float>(&self, context: &StepContext<'_>) -> AdamaxKernel<F> {
        let bias_correction = 1.0 - self.beta1.powf(context.step as f64);
        let (coefficient, from_end) = lerp_form(1.0 - self.beta1);
        AdamaxKernel {
            prep: context.coupled_prep(),
            average_coefficient: F::from_f64(coefficient),
            average_from_end: from_end,
            beta2: F::from_f64(self.beta2),
            eps: F::from_f64(self.eps),
            neg_step_size: F::from_f64(-(context.lr / bias_correction)),
            convention: self.convention,
        }
    }
}

impl<F: Float> AdamaxKernel<F> {
    #[inline(always)]
    fn run<P: Prepare<F>, const BOOK: bool>(&self, prep: P, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        let [exp_avg, exp_inf] = state else { unreachable!("adamax keeps two state buffers") };
        let (coefficient, from_end) = (self.average_coefficient, self.average_from_end);
        for (((p, &g), s), u) in params.iter_mut().zip(grads).zip(exp_avg.iter_mut()).zip(exp_inf.iter_mut()) {
            let g = prep.apply(g, *p);
            *s = lerp(*s, g, coefficient, from_end);
            if BOOK {
                *u = max_propagating_nan(*u * self.beta2, g.abs());
                *p = addcdiv(*p, self.neg_step_size, *s, *u + self.eps);
            } else {
                *u = max_propagating_nan(*u * self.beta2, g.abs() + self.eps);
                *p = addcdiv(*p, self.neg_step_size, *s, *u);
            }
        }
    }
}

impl<F: Float> Kernel<F> for AdamaxKernel<F> {
    #[inline(always)]
    fn apply(&self, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        with_prep!(self.prep, |prep| match self.convention {
            Convention::Book => self.run::<_, true>(prep, params, grads, state),
            Convention::Torch => self.run::<_, false>(prep, params, grads, state),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_steps;

    #[test]
    fn first_two_steps_by_hand() {
        // g = 2 then −0.5, ε = 0.1, book:
        // t = 1: s = 0.2, u = 2, Δθ = −(0.1/0.1)·0.2/(2 + 1e-8) ≈ −0.1.
        // t = 2: s = 0.18 − 0.05 = 0.13, u = max(0.999·2, 0.5) = 1.998,
        //        Δθ = −(0.1/0.19)·0.13/(1.998 + 1e-8).
        let mut calls = 0;
        let grad = move |_: &[f64]| {
            calls += 1;
            vec![if calls == 1 { 2.0 } else { -0.5 }]
        };
        let path = run_steps(AdamaxConfig::new(Convention::Book), &[1.0], grad, 0.1, 2);
        let step1 = -0.2 / (2.0 + 1e-8);
        let step2 = -(0.1 / 0.19) * 0.13 / (1.998 + 1e-8);
        assert!((path[0][0] - (1.0 + step1)).abs() < 1e-15, "{}", path[0][0]);
        assert!((path[1][0] - (1.0 + step1 + step2)).abs() < 1e-15, "{}", path[1][0]);
    }

    #[test]
    fn torch_keeps_delta_inside_the_maximum() {
        // g = 0 from rest: torch's u = max(0, 0 + δ) = δ and s = 0, so θ stays; g = 1e-9 at t = 1:
        // u = 1e-9 + 1e-8 = 1.1e-8, s = 1e-10, Δθ = −(ε/0.1)·1e-10/1.1e-8 (book: /(1e-9 + 1e-8), the same).
        let path = run_steps(AdamaxConfig::new(Convention::Torch), &[0.5], |_| vec![0.0], 0.1, 3);
        assert!(path.iter().all(|p| p[0] == 0.5));
        let path = run_steps(AdamaxConfig::new(Convention::Torch), &[0.0], |_| vec![1e-9], 0.1, 1);
        assert!((path[0][0] + 1e-10 / 1.1e-8).abs() < 1e-15, "{}", path[0][0]);
        // Where |g| ≫ δ the step is ε·sign(g) at t = 1 in both (u = |g|).
        let path = run_steps(AdamaxConfig::new(Convention::Torch), &[0.0], |_| vec![-3.0], 0.1, 1);
        assert!((path[0][0] - 0.1 * 3.0 / (3.0 + 1e-8)).abs() < 1e-15);
    }
}
