//! AdaDelta (Zeiler, 2012), named in the chapter beside AdaGrad and RMSProp.
//!
//! **Book** (Zeiler's Algorithm 1): r ← ρr + (1 − ρ)g⊙g; Δ = −(√(u + δ)/√(r + δ))⊙g;
//! u ← ρu + (1 − ρ)Δ⊙Δ; θ ← θ + εΔ, with ρ = 0.95, δ = 1e-6 and ε = 1 (Zeiler has no ε: the
//! ratio of RMS values gives the step its units).
//!
//! **Torch** (`torch.optim.Adadelta`): the same rule with ρ = 0.9 by default.
//!
//! **Why they differ:** only ρ's default (Zeiler's experiments used 0.95).

use super::{
    check_non_negative, check_unit_interval, with_prep, Convention, GradientPrep, Kernel, Prepare, StepContext,
    UpdateRule,
};
use crate::error::ConfigError;
use crate::Float;

/// Hyperparameters of AdaDelta.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdadeltaConfig {
    /// ρ: decay of both running averages.
    pub rho: f64,
    /// δ: inside both square roots.
    pub eps: f64,
}

impl AdadeltaConfig {
    /// Defaults of a convention: ρ = 0.95 (book) or 0.9 (torch), δ = 1e-6.
    pub fn new(convention: Convention) -> Self {
        AdadeltaConfig {
            rho: match convention {
                Convention::Book => 0.95,
                Convention::Torch => 0.9,
            },
            eps: 1e-6,
        }
    }

    /// Checks every field, naming the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_unit_interval("rho", self.rho)?;
        check_non_negative("eps", self.eps)
    }
}

impl Default for AdadeltaConfig {
    fn default() -> Self {
        Self::new(Convention::Book)
    }
}

/// One prepared AdaDelta step.
#[derive(Debug, Clone, Copy)]
pub struct AdadeltaKernel<F> {
    prep: GradientPrep<F>,
    rho: F,
    one_minus_rho: F,
    eps: F,
    neg_lr: F,
}

impl UpdateRule for AdadeltaConfig {
    type Kernel<F: Float> = AdadeltaKernel<F>;

    fn state_buffers(&self) -> Vec<(&'static str, f64)> {
        vec![("square_avg", 0.0), ("acc_delta", 0.0)]
    }

    fn prepare<F: Float>(&self, context: &StepContext<'_>) -> AdadeltaKernel<F> {
        AdadeltaKernel {
            prep: context.coupled_prep(),
            rho: F::from_f64(self.rho),
            one_minus_rho: F::from_f64(1.0 - self.rho),
            eps: F::from_f64(self.eps),
            neg_lr: F::from_f64(-context.lr),
        }
    }
}

impl<F: Float> AdadeltaKernel<F> {
    #[inline(always)]
    fn run<P: Prepare<F>>(&self, prep: P, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        let [square_avg, acc_delta] = state else { unreachable!("adadelta keeps two state buffers") };
        let Self { rho, one_minus_rho, eps, neg_lr, .. } = *self;
        for (((p, &g), r), u) in params.iter_mut().zip(grads).zip(square_avg.iter_mut()).zip(acc_delta.iter_mut()) {
            let g = prep.apply(g, *p);
            *r = (one_minus_rho * g).mul_add(g, *r * rho);
            // Δ is kept with PyTorch's sign (the step is θ − εΔ).
            let delta = (*u + eps).sqrt() / (*r + eps).sqrt() * g;
            *u = (one_minus_rho * delta).mul_add(delta, *u * rho);
            *p = neg_lr.mul_add(delta, *p);
        }
    }
}

impl<F: Float> Kernel<F> for AdadeltaKernel<F> {
    #[inline(always)]
    fn apply(&self, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        with_prep!(self.prep, |prep| self.run(prep, params, grads, state))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_steps;

    #[test]
    fn first_three_steps_by_hand() {
        // Zeiler's Algorithm 1 with ρ = 0.95, δ = 1e-6, ε = 1, f = θ², θ₀ = 1.
        // step 1: g = 2, r = 0.05·4 = 0.2, Δ = −√(1e-6)/√(0.2 + 1e-6)·2, u = 0.05Δ².
        let (rho, delta) = (0.95f64, 1e-6);
        let r1 = (1.0 - rho) * 4.0;
        let d1 = -(delta.sqrt() / (r1 + delta).sqrt()) * 2.0;
        let u1 = (1.0 - rho) * d1 * d1;
        let t1 = 1.0 + d1;
        let g2 = 2.0 * t1;
        let r2 = rho * r1 + (1.0 - rho) * g2 * g2;
        let d2 = -((u1 + delta).sqrt() / (r2 + delta).sqrt()) * g2;
        let t2 = t1 + d2;
        // step 3, the first to use a decayed u: u₂ = ρu₁ + (1 − ρ)Δ₂².
        let u2 = rho * u1 + (1.0 - rho) * d2 * d2;
        let g3 = 2.0 * t2;
        let r3 = rho * r2 + (1.0 - rho) * g3 * g3;
        let t3 = t2 - ((u2 + delta).sqrt() / (r3 + delta).sqrt()) * g3;
        let path = run_steps(AdadeltaConfig::default(), &[1.0], |p| vec![2.0 * p[0]], 1.0, 3);
        assert!((path[0][0] - t1).abs() < 1e-15);
        assert!((path[1][0] - t2).abs() < 1e-15);
        assert!((path[2][0] - t3).abs() < 1e-15);
    }

    #[test]
    fn torch_convention_by_hand() {
        // torch.optim.Adadelta's defaults: ρ = 0.9, δ = 1e-6, and a rate ε = 0.5 that scales Δ;
        // f = θ², θ₀ = 1. step 1: g = 2, r = 0.1·4, Δ = −√δ/√(r + δ)·2, u = 0.1Δ², θ = 1 + 0.5Δ.
        let (rho, delta, lr) = (0.9f64, 1e-6, 0.5);
        let r1 = (1.0 - rho) * 4.0;
        let d1 = -(delta.sqrt() / (r1 + delta).sqrt()) * 2.0;
        let u1 = (1.0 - rho) * d1 * d1;
        let t1 = 1.0 + lr * d1;
        let g2 = 2.0 * t1;
        let r2 = rho * r1 + (1.0 - rho) * g2 * g2;
        let d2 = -((u1 + delta).sqrt() / (r2 + delta).sqrt()) * g2;
        let t2 = t1 + lr * d2;
        let path = run_steps(AdadeltaConfig::new(Convention::Torch), &[1.0], |p| vec![2.0 * p[0]], lr, 2);
        assert!((path[0][0] - t1).abs() < 1e-15, "{} vs {t1}", path[0][0]);
        assert!((path[1][0] - t2).abs() < 1e-15, "{} vs {t2}", path[1][0]);
    }

    #[test]
    fn first_step_is_bounded_whatever_the_gradient_scale() {
        // The first step is −√δ·g/√((1 − ρ)g² + δ): bounded by √(δ/(1 − ρ)) whatever g is.
        for g in [1e-3, 1.0, 1e6] {
            let path = run_steps(AdadeltaConfig::default(), &[0.0], |_| vec![g], 1.0, 1);
            assert!(path[0][0].abs() <= (1e-6f64 / 0.05).sqrt());
        }
    }
}
