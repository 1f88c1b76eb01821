//! RAdam: Adam with its early steps' variance rectified (Liu et al., 2020, Algorithm 2).
//!
//! s and r as in Adam (ρ₁ = 0.9, ρ₂ = 0.999); ρ∞ = 2/(1 − ρ₂) − 1 and
//! ρₜ = ρ∞ − 2tρ₂ᵗ/(1 − ρ₂ᵗ), the length of the simple moving average that r approximates. While
//! ρₜ is small the variance of the adaptive rate is unbounded, and the step is momentum SGD:
//! Δθ = −ε ŝ. After, Δθ = −ε rₜ ŝ/d with the rectification
//! rₜ = √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ)) and d = √(r̂ + δ_root) + δ.
//!
//! **Book** (the chapter has no RAdam; this is the paper's Algorithm 2, which rectifies once
//! ρₜ > 4, with δ and δ_root placed as Optax's `radam` places them): d as above.
//!
//! **Torch** (`torch.optim.RAdam`): rectifies once ρₜ > 5 and computes
//! θ ← θ − ((ŝ·ε)·(1/(√r + δ))·√(1 − ρ₂ᵗ))·rₜ in that order (PyTorch's scalar/tensor division is
//! a reciprocal times the scalar). δ is added to √r before the bias correction, so its d is
//! √r̂ + δ/√(1 − ρ₂ᵗ) (δ_root = 0), not the book's √r̂ + δ. PyTorch has no `eps_root`; with one
//! set, the torch convention computes the book's arrangement (and keeps PyTorch's threshold).
//! `decoupled_weight_decay` is PyTorch's option (θ ← θ(1 − ελ)).
//!
//! **Why they differ:** the threshold (and δ's scale). With ρ₂ = 0.999, ρₜ passes 4 between
//! t = 4 and 5 and 5 between t = 5 and 6, so the book rectifies one step earlier.

use super::{
    addcdiv, check_non_negative, check_unit_interval, lerp, lerp_form, with_prep, Convention, GradientPrep, Kernel,
    Prepare, StepContext, UpdateRule,
};
use crate::error::ConfigError;
use crate::Float;

/// Hyperparameters of RAdam.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadamConfig {
    /// ρ₁ (β₁): decay of the first moment.
    pub beta1: f64,
    /// ρ₂ (β₂): decay of the second moment.
    pub beta2: f64,
    /// δ: added to √r̂.
    pub eps: f64,
    /// δ_root (Optax's `eps_root`): added to r̂ inside the square root, 0 by default.
    pub eps_root: f64,
    /// Apply weight decay as θ ← θ(1 − ελ) instead of as an L2 gradient.
    pub decoupled_weight_decay: bool,
    /// Whose threshold and operation order.
    pub convention: Convention,
}

impl RadamConfig {
    /// Defaults: ρ₁ = 0.9, ρ₂ = 0.999, δ = 1e-8, δ_root = 0, coupled decay.
    pub fn new(convention: Convention) -> Self {
        RadamConfig { beta1: 0.9, beta2: 0.999, eps: 1e-8, eps_root: 0.0, decoupled_weight_decay: false, convention }
    }

    /// Checks every field, naming the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_unit_interval("beta1", self.beta1)?;
        check_unit_interval("beta2", self.beta2)?;
        check_non_negative("eps", self.eps)?;
        check_non_negative("eps_root", self.eps_root)
    }

    /// ρₜ > threshold: 4 in the paper, 5 in PyTorch.
    fn threshold(&self) -> f64 {
        match self.convention {
            Convention::Book => 4.0,
            Convention::Torch => 5.0,
        }
    }

    /// The rectification rₜ at step t, or `None` while ρₜ is at or below the threshold.
    pub fn rectification(&self, step: u64) -> Option<f64> {
        let t = step as f64;
        let rho_inf = 2.0 / (1.0 - self.beta2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * self.beta2.powf(t) / (1.0 - self.beta2.powf(t));
        (rho_t > self.threshold())
            .then(|| ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).powf(0.5))
    }
}

impl Default for RadamConfig {
    fn default() -> Self {
        Self::new(Convention::Book)
    }
}

/// How a prepared step computes its update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RadamForm {
    /// Δθ = −(ε/(1 − ρ₁ᵗ))·s (not yet rectified; both conventions, PyTorch's order for torch).
    Momentum,
    /// The book's arrangement: Δθ = −(εrₜ/(1 − ρ₁ᵗ))·s/(√(r/(1 − ρ₂ᵗ) + δ_root) + δ).
    Book,
    /// PyTorch's order.
    Torch,
}

/// One prepared RAdam step.
#[derive(Debug, Clone, Copy)]
pub struct RadamKernel<F> {
    prep: GradientPrep<F>,
    decay_factor: F,
    average_coefficient: F,
    average_from_end: bool,
    beta2: F,
    one_minus_beta2: F,
    bias_correction1: F,
    lr: F,
    bias_correction2_sqrt: F,
    inverse_bias_correction2: F,
    rectification: F,
    eps: F,
    eps_root: F,
    neg_step_size: F,
    form: RadamForm,
    torch_order: bool,
}

impl UpdateRule for RadamConfig {
    type Kernel<F: Float> = RadamKernel<F>;

    fn state_buffers(&self) -> Vec<(&'static str, f64)> {
        vec![("exp_avg", 0.0), ("exp_avg_sq", 0.0)]
    }

    fn prepare<F: Float>(&self, context: &StepContext<'_>) -> RadamKernel<F> {
        let t = context.step as f64;
        let bias_correction1 = 1.0 - self.beta1.powf(t);
        let bias_correction2 = 1.0 - self.beta2.powf(t);
        let (prep, decay_factor) = context.decay::<F>(self.decoupled_weight_decay);
        let rectification = self.rectification(context.step);
        let torch_order = self.convention == Convention::Torch && self.eps_root == 0.0;
        let form = match (rectification, torch_order) {
            (None, _) => RadamForm::Momentum,
            (Some(_), true) => RadamForm::Torch,
            (Some(_), false) => RadamForm::Book,
        };
        let (coefficient, from_end) = lerp_form(1.0 - self.beta1);
        RadamKernel {
            prep,
            decay_factor,
            average_coefficient: F::from_f64(coefficient),
            average_from_end: from_end,
            beta2: F::from_f64(self.beta2),
            one_minus_beta2: F::from_f64(1.0 - self.beta2),
            bias_correction1: F::from_f64(bias_correction1),
            lr: F::from_f64(context.lr),
            bias_correction2_sqrt: F::from_f64(bias_correction2.powf(0.5)),
            inverse_bias_correction2: F::from_f64(1.0 / bias_correction2),
            rectification: F::from_f64(rectification.unwrap_or(1.0)),
            eps: F::from_f64(self.eps),
            eps_root: F::from_f64(self.eps_root),
            neg_step_size: F::from_f64(-context.lr * rectification.unwrap_or(1.0) / bias_correction1),
            form,
            torch_order,
        }
    }
}

impl<F: Float> RadamKernel<F> {
    #[inline(always)]
    fn run<P: Prepare<F>, const FORM: u8>(&self, prep: P, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        let [exp_avg, exp_avg_sq] = state else { unreachable!("radam keeps two state buffers") };
        let (coefficient, from_end) = (self.average_coefficient, self.average_from_end);
        for (((p, &g), s), r) in params.iter_mut().zip(grads).zip(exp_avg.iter_mut()).zip(exp_avg_sq.iter_mut()) {
            let g = prep.apply(g, *p);
            *p *= self.decay_factor;
            *s = lerp(*s, g, coefficient, from_end);
            *r = (self.one_minus_beta2 * g).mul_add(g, *r * self.beta2);
            match FORM {
                // PyTorch: param.add_(exp_avg/bc1·lr, alpha=−1).
                0 if self.torch_order => *p = *p - *s / self.bias_correction1 * self.lr,
                0 => *p = self.neg_step_size.mul_add(*s, *p),
                1 => {
                    let d = r.mul_add(self.inverse_bias_correction2, self.eps_root).sqrt() + self.eps;
                    *p = addcdiv(*p, self.neg_step_size, *s, d);
                }
                _ => {
                    let adaptive = F::ONE / (r.sqrt() + self.eps) * self.bias_correction2_sqrt;
                    *p = *p - *s / self.bias_correction1 * self.lr * adaptive * self.rectification;
                }
            }
        }
    }
}

impl<F: Float> Kernel<F> for RadamKernel<F> {
    #[inline(always)]
    fn apply(&self, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        with_prep!(self.prep, |prep| match self.form {
            RadamForm::Momentum => self.run::<_, 0>(prep, params, grads, state),
            RadamForm::Book => self.run::<_, 1>(prep, params, grads, state),
            RadamForm::Torch => self.run::<_, 2>(prep, params, grads, state),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_steps;

    /// Weight decay λ as an L2 gradient (coupled) or as θ ← θ(1 − ελ) before the step.
    #[derive(Clone, Copy)]
    enum Decay {
        Coupled(f64),
        Decoupled(f64),
    }

    /// Liu et al.'s Algorithm 2 in f64, written from the paper, with weight decay as PyTorch
    /// applies it. `Book`: rectified once ρₜ > 4, d = √r̂ + δ. `Torch`: once ρₜ > 5, with
    /// d = (√r + δ)/√(1 − ρ₂ᵗ) (PyTorch's `bias_correction2**0.5 / exp_avg_sq.sqrt().add_(eps)`).
    fn paper_radam(
        theta0: f64,
        grad: impl Fn(f64) -> f64,
        lr: f64,
        steps: i32,
        convention: Convention,
        decay: Decay,
    ) -> Vec<f64> {
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
        let rho_inf = 2.0 / (1.0 - b2) - 1.0;
        let (mut theta, mut m, mut v) = (theta0, 0.0, 0.0);
        let mut path = Vec::new();
        for t in 1..=steps {
            let mut g = grad(theta);
            match decay {
                Decay::Coupled(lambda) => g += lambda * theta,
                Decay::Decoupled(lambda) => theta *= 1.0 - lr * lambda,
            }
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            let m_hat = m / (1.0 - b1.powi(t));
            let rho_t = rho_inf - 2.0 * t as f64 * b2.powi(t) / (1.0 - b2.powi(t));
            let (threshold, d) = match convention {
                Convention::Book => (4.0, (v / (1.0 - b2.powi(t))).sqrt() + eps),
                Convention::Torch => (5.0, (v.sqrt() + eps) / (1.0 - b2.powi(t)).sqrt()),
            };
            if rho_t > threshold {
                let l = 1.0 / d;
                let r = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).sqrt();
                theta -= lr * r * m_hat * l;
            } else {
                theta -= lr * m_hat;
            }
            path.push(theta);
        }
        path
    }

    #[test]
    fn book_matches_the_papers_algorithm_2() {
        let grad = |x: f64| 2.0 * x + x.powi(3);
        let path = run_steps(RadamConfig::new(Convention::Book), &[1.5], |p| vec![grad(p[0])], 0.05, 60);
        for (a, b) in path.iter().zip(paper_radam(1.5, grad, 0.05, 60, Convention::Book, Decay::Coupled(0.0))) {
            assert!((a[0] - b).abs() < 1e-12, "{} vs {b}", a[0]);
        }
    }

    #[test]
    fn torch_rectifies_after_5_in_its_own_order_with_either_decay() {
        // PyTorch's threshold 5 (the step at t = 5 is still momentum SGD) and its δ, added to √r
        // before the bias correction; λ = 0.1 as an L2 gradient and as decoupled decay.
        let grad = |x: f64| 2.0 * x + x.powi(3);
        for (decay, decoupled) in [(Decay::Coupled(0.1), false), (Decay::Decoupled(0.1), true)] {
            let config = RadamConfig { decoupled_weight_decay: decoupled, ..RadamConfig::new(Convention::Torch) };
            let mut optimizer = crate::Optimizer::<f64>::new(config.into()).unwrap().with_weight_decay(0.1).unwrap();
            let mut params = [1.5];
            for (t, expected) in paper_radam(1.5, grad, 0.05, 30, Convention::Torch, decay).into_iter().enumerate() {
                let g = [grad(params[0])];
                optimizer.step(&mut params, &g, 0.05).unwrap();
                assert!((params[0] - expected).abs() < 1e-12, "t = {}: {} vs {expected}", t + 1, params[0]);
            }
        }
    }

    #[test]
    fn torch_steps_before_rectification_round_as_pytorch() {
        // PyTorch: exp_avg.lerp_(grad, 1 - beta1) from 0, then
        // param.add_(exp_avg / bias_correction1 * lr, alpha=-1), rounding three times. From θ₀ = 1
        // with g = 3.7 and ε = 0.1 that gives 0.6299999999999999, where the fused
        // θ₀ − (ε/(1 − ρ₁))·s gives 0.63 (found by a search with an exact fma in Python).
        let s = (1.0 - 0.9f64) * 3.7;
        let expected = 1.0 - s / (1.0 - 0.9f64) * 0.1;
        assert_eq!(expected, 0.6299999999999999);
        let path = run_steps(RadamConfig::new(Convention::Torch), &[1.0], |_| vec![3.7], 0.1, 1);
        assert_eq!(path[0][0].to_bits(), expected.to_bits(), "{} vs {expected}", path[0][0]);
    }

    #[test]
    fn rectification_starts_after_the_threshold() {
        // ρ∞ = 1999; ρₜ by hand: t = 4 → 3.994, t = 5 → 4.990, t = 6 → 5.985 (to 3 places).
        let rho = |t: f64| 1999.0 - 2.0 * t * 0.999f64.powf(t) / (1.0 - 0.999f64.powf(t));
        assert!(rho(4.0) < 4.0 && rho(5.0) > 4.0 && rho(5.0) < 5.0 && rho(6.0) > 5.0);
        let (book, torch) = (RadamConfig::new(Convention::Book), RadamConfig::new(Convention::Torch));
        assert!(book.rectification(4).is_none() && book.rectification(5).is_some());
        assert!(torch.rectification(5).is_none() && torch.rectification(6).is_some());
        // Before it, a step is ε·ŝ: at t = 1, exactly ε·g.
        let path = run_steps(torch, &[1.0], |_| vec![0.5], 0.1, 1);
        assert!((path[0][0] - (1.0 - 0.1 * 0.5)).abs() < 1e-16);
    }
}
