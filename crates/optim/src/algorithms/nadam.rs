//! NAdam: Adam with Nesterov momentum (Dozat, 2016).
//!
//! **Book** (the chapter has no NAdam; this is Dozat's rule without a momentum schedule, as Optax's
//! `nadam` runs it): s and r as in Adam, then
//! ŝ = ρ₁s/(1 − ρ₁ᵗ⁺¹) + (1 − ρ₁)g/(1 − ρ₁ᵗ); r̂ = r/(1 − ρ₂ᵗ); Δθ = −ε ŝ/(√r̂ + δ).
//! The look-ahead is the Nesterov idea: use the momentum of the *next* step now.
//!
//! **Torch** (`torch.optim.NAdam`): a momentum schedule μₜ = ρ₁(1 − ½·0.96^(t·ψ)), ψ = 0.004
//! (`momentum_decay`), with the product Πμ kept as scalar state, and
//! θ ← θ − ε(1 − μₜ)/(1 − Πᵢ≤ₜμᵢ)·g/d − εμₜ₊₁/(1 − Πᵢ≤ₜ₊₁μᵢ)·s/d, where d = √(r/(1 − ρ₂ᵗ)) + δ.
//! Default ε = 2e-3.
//!
//! **Why they differ:** PyTorch follows Dozat's paper with its warming momentum schedule; Optax
//! and this book form keep ρ₁ fixed. Both reduce to the same look-ahead when ψ → ∞.
//!
//! **Where δ goes:** d = √(r̂ + δ_root) + δ in both conventions, with δ_root = `eps_root` (Optax's
//! name, default 0; PyTorch has none) as in [`adam`](super::adam), whose docs say why.

use super::{
    addcdiv, check_non_negative, check_unit_interval, lerp, lerp_form, with_prep, Convention, GradientPrep, Kernel,
    Prepare, StepContext, UpdateRule,
};
use crate::error::ConfigError;
use crate::Float;

/// Hyperparameters of NAdam.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NadamConfig {
    /// ρ₁ (β₁): decay of the first moment.
    pub beta1: f64,
    /// ρ₂ (β₂): decay of the second moment.
    pub beta2: f64,
    /// δ: added to √r̂.
    pub eps: f64,
    /// δ_root (Optax's `eps_root`): added to r̂ inside the square root, 0 by default.
    pub eps_root: f64,
    /// ψ in PyTorch's momentum schedule (torch convention only).
    pub momentum_decay: f64,
    /// Apply weight decay as θ ← θ(1 − ελ) before the step (PyTorch's option) instead of as an
    /// L2 gradient.
    pub decoupled_weight_decay: bool,
    /// Whose formulas to follow.
    pub convention: Convention,
}

impl NadamConfig {
    /// Defaults: ρ₁ = 0.9, ρ₂ = 0.999, δ = 1e-8, ψ = 0.004.
    pub fn new(convention: Convention) -> Self {
        NadamConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            eps_root: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
            convention,
        }
    }

    /// Checks every field, naming the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_unit_interval("beta1", self.beta1)?;
        check_unit_interval("beta2", self.beta2)?;
        check_non_negative("eps", self.eps)?;
        check_non_negative("eps_root", self.eps_root)?;
        check_non_negative("momentum_decay", self.momentum_decay)
    }

    /// μₜ of PyTorch's schedule.
    fn mu(&self, step: f64) -> f64 {
        self.beta1 * (1.0 - 0.5 * 0.96f64.powf(step * self.momentum_decay))
    }
}

impl Default for NadamConfig {
    fn default() -> Self {
        Self::new(Convention::Book)
    }
}

/// One prepared NAdam step: θ ← θ + grad_coefficient·g/d + avg_coefficient·s/d.
///
/// Torch runs PyTorch's order (d = √(r/(1 − ρ₂ᵗ)) + δ, then two `addcdiv`s: three divisions);
/// book computes d with the reciprocal of the bias correction and adds both terms over one
/// division, the same arithmetic up to rounding.
#[derive(Debug, Clone, Copy)]
pub struct NadamKernel<F> {
    prep: GradientPrep<F>,
    decay_factor: F,
    average_coefficient: F,
    average_from_end: bool,
    beta2: F,
    one_minus_beta2: F,
    bias_correction2: F,
    eps: F,
    eps_root: F,
    grad_coefficient: F,
    avg_coefficient: F,
    inverse_bias_correction2: F,
    convention: Convention,
}

impl UpdateRule for NadamConfig {
    type Kernel<F: Float> = NadamKernel<F>;

    fn state_buffers(&self) -> Vec<(&'static str, f64)> {
        vec![("exp_avg", 0.0), ("exp_avg_sq", 0.0)]
    }

    fn scalar_state(&self) -> Vec<(&'static str, f64)> {
        match self.convention {
            Convention::Book => vec![],
            Convention::Torch => vec![("mu_product", 1.0)],
        }
    }

    fn advance(&self, step: u64, _lr: f64, scalars: &mut [f64]) {
        if self.convention == Convention::Torch {
            scalars[0] *= self.mu(step as f64);
        }
    }

    fn prepare<F: Float>(&self, context: &StepContext<'_>) -> NadamKernel<F> {
        let t = context.step as f64;
        let lr = context.lr;
        let (grad_coefficient, avg_coefficient) = match self.convention {
            Convention::Torch => {
                let mu_product = context.scalars[0];
                let (mu, mu_next) = (self.mu(t), self.mu(t + 1.0));
                let mu_product_next = mu_product * mu_next;
                (-lr * (1.0 - mu) / (1.0 - mu_product), (-lr * mu_next) / (1.0 - mu_product_next))
            }
            Convention::Book => {
                let b1 = self.beta1;
                (-lr * (1.0 - b1) / (1.0 - b1.powf(t)), -lr * b1 / (1.0 - b1.powf(t + 1.0)))
            }
        };
        let (prep, decay_factor) = context.decay::<F>(self.decoupled_weight_decay);
        NadamKernel {
            prep,
            decay_factor,
            average_coefficient: F::from_f64(lerp_form(1.0 - self.beta1).0),
            average_from_end: lerp_form(1.0 - self.beta1).1,
            beta2: F::from_f64(self.beta2),
            one_minus_beta2: F::from_f64(1.0 - self.beta2),
            bias_correction2: F::from_f64(1.0 - self.beta2.powf(t)),
            eps: F::from_f64(self.eps),
            eps_root: F::from_f64(self.eps_root),
            grad_coefficient: F::from_f64(grad_coefficient),
            avg_coefficient: F::from_f64(avg_coefficient),
            inverse_bias_correction2: F::from_f64(1.0 / (1.0 - self.beta2.powf(t))),
            convention: self.convention,
        }
    }
}

impl<F: Float> NadamKernel<F> {
    #[inline(always)]
    fn run<P: Prepare<F>, const BOOK: bool>(&self, prep: P, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        let [exp_avg, exp_avg_sq] = state else { unreachable!("nadam keeps two state buffers") };
        let (coefficient, from_end) = (self.average_coefficient, self.average_from_end);
        for (((p, &g), s), r) in params.iter_mut().zip(grads).zip(exp_avg.iter_mut()).zip(exp_avg_sq.iter_mut()) {
            let g = prep.apply(g, *p);
            *p *= self.decay_factor;
            *s = lerp(*s, g, coefficient, from_end);
            *r = (self.one_minus_beta2 * g).mul_add(g, *r * self.beta2);
            if BOOK {
                let d = r.mul_add(self.inverse_bias_correction2, self.eps_root).sqrt() + self.eps;
                *p += self.grad_coefficient.mul_add(g, self.avg_coefficient * *s) / d;
            } else {
                let d = (*r / self.bias_correction2 + self.eps_root).sqrt() + self.eps;
                *p = addcdiv(*p, self.grad_coefficient, g, d);
                *p = addcdiv(*p, self.avg_coefficient, *s, d);
            }
        }
    }
}

impl<F: Float> Kernel<F> for NadamKernel<F> {
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
    fn book_matches_dozat_formula_written_separately() {
        // Optax's nadam in f64: m̂ = b1·m/(1 − b1^(t+1)) + (1 − b1)·g/(1 − b1^t).
        let (b1, b2, eps, lr) = (0.9f64, 0.999f64, 1e-8, 0.01);
        let (mut theta, mut m, mut v) = (2.0f64, 0.0, 0.0);
        let mut expected = Vec::new();
        for t in 1..=30 {
            let g = 4.0 * theta.powi(3);
            m = b1 * m + (1.0 - b1) * g;
            v = b2 * v + (1.0 - b2) * g * g;
            let m_hat = b1 * m / (1.0 - b1.powi(t + 1)) + (1.0 - b1) * g / (1.0 - b1.powi(t));
            let v_hat = v / (1.0 - b2.powi(t));
            theta -= lr * m_hat / (v_hat.sqrt() + eps);
            expected.push(theta);
        }
        let path = run_steps(NadamConfig::new(Convention::Book), &[2.0], |p| vec![4.0 * p[0].powi(3)], lr, 30);
        for (a, b) in path.iter().zip(&expected) {
            assert!((a[0] - b).abs() < 1e-12, "{} vs {b}", a[0]);
        }
    }

    #[test]
    fn torch_matches_pytorchs_nadam_written_separately() {
        // torch.optim.NAdam's single-tensor loop in f64 on f = θ⁴ for 20 steps: μₜ and μₜ₊₁ from
        // ψ, the running product Πμ, s and r, d = √(r/(1 − ρ₂ᵗ)) + δ, then the gradient and the
        // momentum terms. Once with coupled L2 (g + λθ) and ψ = 0.004, once with decoupled decay
        // (θ(1 − ελ) first) and ψ = 0.05.
        let (b1, b2, eps, lr, lambda) = (0.9f64, 0.999f64, 1e-8, 0.01, 0.1);
        for (decoupled, psi) in [(false, 4e-3), (true, 0.05)] {
            let (mut theta, mut s, mut r, mut mu_product) = (2.0f64, 0.0, 0.0, 1.0);
            let config = NadamConfig {
                momentum_decay: psi,
                decoupled_weight_decay: decoupled,
                ..NadamConfig::new(Convention::Torch)
            };
            let mut optimizer = crate::Optimizer::<f64>::new(config.into()).unwrap().with_weight_decay(lambda).unwrap();
            let mut params = [theta];
            for t in 1..=20 {
                let mut g = 4.0 * theta.powi(3);
                if decoupled {
                    theta *= 1.0 - lr * lambda;
                } else {
                    g += lambda * theta;
                }
                let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(t as f64 * psi));
                let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((t + 1) as f64 * psi));
                mu_product *= mu;
                s = b1 * s + (1.0 - b1) * g;
                r = b2 * r + (1.0 - b2) * g * g;
                let d = (r / (1.0 - b2.powi(t))).sqrt() + eps;
                theta -= lr * (1.0 - mu) / (1.0 - mu_product) * g / d;
                theta -= lr * mu_next / (1.0 - mu_product * mu_next) * s / d;

                let grad = [4.0 * params[0].powi(3)];
                optimizer.step(&mut params, &grad, lr).unwrap();
                assert!((params[0] - theta).abs() < 1e-12, "decoupled {decoupled}, t = {t}: {} vs {theta}", params[0]);
            }
            // Checkpoints store Πμ as optimizer.mu_product, PyTorch's name for it.
            let (name, value) = optimizer.state_scalars()[1];
            assert_eq!(name, "mu_product");
            assert!((value - mu_product).abs() < 1e-15, "{value} vs {mu_product}");
        }
    }

    #[test]
    fn torch_first_step_by_hand() {
        // t = 1: μ₁ = 0.9(1 − ½·0.96^0.004), μ₂ = 0.9(1 − ½·0.96^0.008), Π = μ₁.
        // s = 0.1g, r = 0.001g², d = √(r/0.001) + δ = |g| + δ.
        // Δθ = −ε(1 − μ₁)/(1 − μ₁)·g/d − εμ₂/(1 − μ₁μ₂)·0.1g/d
        let mu1 = 0.9 * (1.0 - 0.5 * 0.96f64.powf(0.004));
        let mu2 = 0.9 * (1.0 - 0.5 * 0.96f64.powf(0.008));
        let (g, lr) = (3.0, 0.002);
        let d = g + 1e-8;
        let expected = -lr * g / d - lr * mu2 / (1.0 - mu1 * mu2) * (0.1 * g) / d;
        let path = run_steps(NadamConfig::new(Convention::Torch), &[0.0], |_| vec![g], lr, 1);
        assert!((path[0][0] - expected).abs() < 1e-15, "{} vs {expected}", path[0][0]);
    }

    #[test]
    fn eps_root_goes_inside_the_root_in_both_conventions() {
        // t = 1, g = 2e-4, δ = 0, δ_root = 1e-8: r̂ = g² = 4e-8, d = √(5e-8).
        // Book: Δθ = −ε[(1 − ρ₁)g/(1 − ρ₁) + ρ₁·0.1g/(1 − ρ₁²)]/d = −ε[g + 0.9·0.1g/0.19]/d.
        // Torch: as in torch_first_step_by_hand, with d = √(5e-8).
        let (g, lr) = (2e-4, 0.01);
        let d = (5e-8f64).sqrt();
        let book = -lr * (g + 0.9 * 0.1 * g / 0.19) / d;
        let mu1 = 0.9 * (1.0 - 0.5 * 0.96f64.powf(0.004));
        let mu2 = 0.9 * (1.0 - 0.5 * 0.96f64.powf(0.008));
        let torch = -lr * g / d - lr * mu2 / (1.0 - mu1 * mu2) * (0.1 * g) / d;
        for (convention, expected) in [(Convention::Book, book), (Convention::Torch, torch)] {
            let config = NadamConfig { eps: 0.0, eps_root: 1e-8, ..NadamConfig::new(convention) };
            let path = run_steps(config, &[0.0], |_| vec![g], lr, 1);
            assert!((path[0][0] - expected).abs() < 1e-15, "{convention}: {} vs {expected}", path[0][0]);
        }
    }
}
