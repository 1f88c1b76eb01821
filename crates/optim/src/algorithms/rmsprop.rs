//! RMSProp (Algorithm 8.5; Hinton, 2012) and RMSProp with Nesterov momentum (Algorithm 8.6).
//!
//! **Book:** r ← ρr + (1 − ρ)g⊙g; Δθ = −ε g/√(δ + r), with ρ = 0.9, δ = 1e-6.
//! With momentum α (8.6, in the form of Bengio, Boulanger-Lewandowski & Pascanu 2013 that takes g
//! at θ): v ← αv − ε g/√(δ + r), and
//! Δθ = αv − ε g/√(δ + r) (Nesterov) or Δθ = v (classical).
//!
//! **Torch** (`torch.optim.RMSprop`): r ← ρr + (1 − ρ)g⊙g; Δθ = −ε g/(√r + δ), with ρ = 0.99
//! (`alpha`), δ = 1e-8. With `momentum` μ: b ← μb + g/(√r + δ); θ ← θ − εb. `centered` subtracts
//! the squared running mean of g from r (an estimate of the variance). PyTorch has no Nesterov form;
//! under the torch convention `rmsprop-nesterov` uses its denominators with PyTorch SGD's Nesterov
//! step, θ ← θ − ε(d + μb) where d = g/(√r + δ).
//!
//! **Why they differ:** δ inside the square root (book) or outside (torch), and ρ = 0.9 or 0.99.
//! The book's velocity v is in units of θ, PyTorch's buffer b in units of g (see `sgd`).

use super::{
    addcdiv, check_non_negative, check_unit_interval, lerp, lerp_form, with_prep, Convention, GradientPrep, Kernel,
    Prepare, StepContext, UpdateRule,
};
use crate::error::ConfigError;
use crate::Float;

/// Hyperparameters of RMSProp.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmspropConfig {
    /// ρ in Algorithm 8.5 (`alpha` in PyTorch): decay of the squared-gradient average.
    pub rho: f64,
    /// δ: inside the square root (book) or added to it (torch).
    pub eps: f64,
    /// α in Algorithm 8.6 (μ in PyTorch); 0 for none.
    pub momentum: f64,
    /// Nesterov momentum (Algorithm 8.6) rather than classical.
    pub nesterov: bool,
    /// Divide by an estimate of the standard deviation (r − ḡ²) instead of the root mean square.
    pub centered: bool,
    /// Whose formulas to follow.
    pub convention: Convention,
}

impl RmspropConfig {
    /// RMSProp (Algorithm 8.5) with the convention's ρ and δ.
    pub fn new(convention: Convention) -> Self {
        let (rho, eps) = match convention {
            Convention::Book => (0.9, 1e-6),
            Convention::Torch => (0.99, 1e-8),
        };
        RmspropConfig { rho, eps, momentum: 0.0, nesterov: false, centered: false, convention }
    }

    /// RMSProp with Nesterov momentum α = 0.9 (Algorithm 8.6).
    pub fn nesterov(convention: Convention) -> Self {
        RmspropConfig { momentum: 0.9, nesterov: true, ..Self::new(convention) }
    }

    /// Checks every field, naming the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_unit_interval("rho", self.rho)?;
        check_non_negative("eps", self.eps)?;
        check_unit_interval("momentum", self.momentum)?;
        if self.nesterov && self.momentum == 0.0 {
            return Err(ConfigError::OutOfRange {
                field: "momentum",
                expected: "> 0 for Nesterov momentum",
                value: self.momentum,
            });
        }
        Ok(())
    }
}

impl Default for RmspropConfig {
    fn default() -> Self {
        Self::new(Convention::Book)
    }
}

/// One prepared RMSProp step.
#[derive(Debug, Clone, Copy)]
pub struct RmspropKernel<F> {
    prep: GradientPrep<F>,
    rho: F,
    one_minus_rho: F,
    average_coefficient: F,
    average_from_end: bool,
    eps: F,
    lr: F,
    neg_lr: F,
    momentum: F,
    has_momentum: bool,
    nesterov: bool,
    centered: bool,
    convention: Convention,
}

impl UpdateRule for RmspropConfig {
    type Kernel<F: Float> = RmspropKernel<F>;

    fn state_buffers(&self) -> Vec<(&'static str, f64)> {
        let mut names = vec![("square_avg", 0.0)];
        if self.momentum > 0.0 {
            names.push(match self.convention {
                Convention::Book => ("velocity", 0.0),
                Convention::Torch => ("momentum_buffer", 0.0),
            });
        }
        if self.centered {
            names.push(("grad_avg", 0.0));
        }
        names
    }

    fn prepare<F: Float>(&self, context: &StepContext<'_>) -> RmspropKernel<F> {
        let (average_coefficient, average_from_end) = lerp_form(1.0 - self.rho);
        RmspropKernel {
            prep: context.coupled_prep(),
            rho: F::from_f64(self.rho),
            one_minus_rho: F::from_f64(1.0 - self.rho),
            average_coefficient: F::from_f64(average_coefficient),
            average_from_end,
            eps: F::from_f64(self.eps),
            lr: F::from_f64(context.lr),
            neg_lr: F::from_f64(-context.lr),
            momentum: F::from_f64(self.momentum),
            has_momentum: self.momentum > 0.0,
            nesterov: self.nesterov,
            centered: self.centered,
            convention: self.convention,
        }
    }
}

impl<F: Float> RmspropKernel<F> {
    /// Updates r (and ḡ when centered) and returns the denominator for one element.
    #[inline(always)]
    fn denominator<const BOOK: bool>(&self, g: F, r: &mut F, mean: Option<&mut F>) -> F {
        *r = (self.one_minus_rho * g).mul_add(g, *r * self.rho);
        let second_moment = match mean {
            Some(mean) => {
                *mean = lerp(*mean, g, self.average_coefficient, self.average_from_end);
                (-*mean).mul_add(*mean, *r)
            }
            None => *r,
        };
        if BOOK {
            (self.eps + second_moment).sqrt()
        } else {
            second_moment.sqrt() + self.eps
        }
    }

    /// Updates the velocity (book) or buffer (torch) from the scaled gradient d; returns the new θ.
    #[inline(always)]
    fn momentum_step<const BOOK: bool, const NESTEROV: bool>(&self, d: F, buffer: &mut F, p: F) -> F {
        let mu = self.momentum;
        if BOOK {
            let step = self.lr * d;
            *buffer = mu.mul_add(*buffer, -step);
            p + if NESTEROV { mu.mul_add(*buffer, -step) } else { *buffer }
        } else {
            *buffer = *buffer * mu + d;
            let direction = if NESTEROV { mu.mul_add(*buffer, d) } else { *buffer };
            self.neg_lr.mul_add(direction, p)
        }
    }

    #[inline(always)]
    fn run<P: Prepare<F>, const BOOK: bool, const NESTEROV: bool>(
        &self,
        prep: P,
        params: &mut [F],
        grads: &[F],
        state: &mut [&mut [F]],
    ) {
        let neg_lr = self.neg_lr;
        let (square_avg, rest) = state.split_first_mut().expect("rmsprop keeps square_avg");
        let pairs = params.iter_mut().zip(grads).zip(square_avg.iter_mut());
        match (self.has_momentum, self.centered, rest) {
            (false, false, []) => {
                for ((p, &g), r) in pairs {
                    let g = prep.apply(g, *p);
                    *p = addcdiv(*p, neg_lr, g, self.denominator::<BOOK>(g, r, None));
                }
            }
            (false, true, [means]) => {
                for (((p, &g), r), m) in pairs.zip(means.iter_mut()) {
                    let g = prep.apply(g, *p);
                    *p = addcdiv(*p, neg_lr, g, self.denominator::<BOOK>(g, r, Some(m)));
                }
            }
            (true, false, [buffers]) => {
                for (((p, &g), r), b) in pairs.zip(buffers.iter_mut()) {
                    let g = prep.apply(g, *p);
                    let d = g / self.denominator::<BOOK>(g, r, None);
                    *p = self.momentum_step::<BOOK, NESTEROV>(d, b, *p);
                }
            }
            (true, true, [buffers, means]) => {
                for (((p, &g), r), (b, m)) in pairs.zip(buffers.iter_mut().zip(means.iter_mut())) {
                    let g = prep.apply(g, *p);
                    let d = g / self.denominator::<BOOK>(g, r, Some(m));
                    *p = self.momentum_step::<BOOK, NESTEROV>(d, b, *p);
                }
            }
            _ => unreachable!("rmsprop's state buffers follow its options"),
        }
    }
}

impl<F: Float> Kernel<F> for RmspropKernel<F> {
    #[inline(always)]
    fn apply(&self, params: &mut [F], grads: &[F], state: &mut [&mut [F]]) {
        with_prep!(self.prep, |prep| match (self.convention, self.nesterov) {
            (Convention::Book, false) => self.run::<_, true, false>(prep, params, grads, state),
            (Convention::Book, true) => self.run::<_, true, true>(prep, params, grads, state),
            (Convention::Torch, false) => self.run::<_, false, false>(prep, params, grads, state),
            (Convention::Torch, true) => self.run::<_, false, true>(prep, params, grads, state),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_steps;

    #[test]
    fn book_classical_momentum_by_hand() {
        // f = θ², θ₀ = 1, ε = 0.1, ρ = 0.9, δ = 1e-6, α = 0.9, classical (Δθ = v).
        // step 1: g = 2, r = 0.1·4 = 0.4, d = 2/√(0.4 + 1e-6), v = −0.1·d, θ = 1 + v.
        // step 2: g = 2θ₁, r = 0.9·0.4 + 0.1·g², d = g/√(r + 1e-6), v = 0.9v − 0.1d, θ = θ₁ + v.
        let config = RmspropConfig { momentum: 0.9, ..RmspropConfig::new(Convention::Book) };
        let path = run_steps(config, &[1.0], |p| vec![2.0 * p[0]], 0.1, 2);
        let d1 = 2.0 / (0.4f64 + 1e-6).sqrt();
        let v1 = -0.1 * d1;
        let theta1 = 1.0 + v1;
        let g2 = 2.0 * theta1;
        let r2 = 0.9 * 0.4 + 0.1 * g2 * g2;
        let v2 = 0.9 * v1 - 0.1 * g2 / (r2 + 1e-6).sqrt();
        assert!((path[0][0] - theta1).abs() < 1e-15, "{} vs {theta1}", path[0][0]);
        assert!((path[1][0] - (theta1 + v2)).abs() < 1e-15, "{} vs {}", path[1][0], theta1 + v2);
    }

    #[test]
    fn torch_nesterov_by_hand() {
        // The torch convention's rmsprop-nesterov: d = g/(√r + δ), b ← μb + d, θ ← θ − ε(d + μb),
        // with ρ = 0.99, δ = 1e-8, μ = 0.9; f = θ², θ₀ = 1, ε = 0.01.
        // step 1: g = 2, r = 0.01·4 = 0.04, d = 2/(0.2 + 1e-8), b = d, θ = 1 − 0.01(d + 0.9d).
        // step 2: g = 2θ₁, r = 0.99·0.04 + 0.01·g², d = g/(√r + 1e-8), b = 0.9b + d, θ -= 0.01(d + 0.9b).
        let path = run_steps(RmspropConfig::nesterov(Convention::Torch), &[1.0], |p| vec![2.0 * p[0]], 0.01, 2);
        let d1 = 2.0 / (0.04f64.sqrt() + 1e-8);
        let theta1 = 1.0 - 0.01 * (d1 + 0.9 * d1);
        let g2 = 2.0 * theta1;
        let r2 = 0.99 * 0.04 + 0.01 * g2 * g2;
        let d2 = g2 / (r2.sqrt() + 1e-8);
        let b2 = 0.9 * d1 + d2;
        let theta2 = theta1 - 0.01 * (d2 + 0.9 * b2);
        assert!((path[0][0] - theta1).abs() < 1e-15, "{} vs {theta1}", path[0][0]);
        assert!((path[1][0] - theta2).abs() < 1e-14, "{} vs {theta2}", path[1][0]);
    }

    fn quadratic(p: &[f64]) -> Vec<f64> {
        vec![2.0 * p[0]]
    }

    #[test]
    fn book_first_two_steps_by_hand() {
        // f = θ², θ₀ = 1, ε = 0.01, ρ = 0.9, δ = 1e-6; δ inside the root.
        // step 1: g = 2, r = 0.1·4 = 0.4, θ₁ = 1 − 0.01·2/√(1e-6 + 0.4)
        let t1 = 1.0 - 0.01 * 2.0 / (1e-6f64 + 0.4).sqrt();
        let g2 = 2.0 * t1;
        let r2 = 0.9 * 0.4 + 0.1 * g2 * g2;
        let t2 = t1 - 0.01 * g2 / (1e-6 + r2).sqrt();
        let path = run_steps(RmspropConfig::new(Convention::Book), &[1.0], quadratic, 0.01, 2);
        assert!((path[0][0] - t1).abs() < 1e-15);
        assert!((path[1][0] - t2).abs() < 1e-15);
    }

    #[test]
    fn torch_first_two_steps_by_hand() {
        // ρ = 0.99, δ = 1e-8 outside the root.
        let t1 = 1.0 - 0.01 * 2.0 / ((0.01f64 * 4.0).sqrt() + 1e-8);
        let g2 = 2.0 * t1;
        let r2 = 0.99 * 0.04 + 0.01 * g2 * g2;
        let t2 = t1 - 0.01 * g2 / (r2.sqrt() + 1e-8);
        let path = run_steps(RmspropConfig::new(Convention::Torch), &[1.0], quadratic, 0.01, 2);
        assert!((path[0][0] - t1).abs() < 1e-15);
        assert!((path[1][0] - t2).abs() < 1e-15);
    }

    #[test]
    fn book_nesterov_by_hand() {
        // Algorithm 8.6 in the reparametrized form (g at θ), ρ = 0.9, α = 0.9, δ = 1e-6, ε = 0.01, f = θ².
        let d1 = 2.0 / (1e-6f64 + 0.4).sqrt();
        let v1 = -0.01 * d1;
        let t1 = 1.0 + 0.9 * v1 - 0.01 * d1;
        let g2 = 2.0 * t1;
        let r2 = 0.9 * 0.4 + 0.1 * g2 * g2;
        let d2 = g2 / (1e-6 + r2).sqrt();
        let v2 = 0.9 * v1 - 0.01 * d2;
        let t2 = t1 + 0.9 * v2 - 0.01 * d2;
        let path = run_steps(RmspropConfig::nesterov(Convention::Book), &[1.0], quadratic, 0.01, 2);
        assert!((path[0][0] - t1).abs() < 1e-15);
        assert!((path[1][0] - t2).abs() < 1e-15);
    }

    #[test]
    fn torch_centered_with_momentum_by_hand() {
        // torch: r = 0.01·g², ḡ = 0.01·g, avg = √(r − ḡ²) + δ, b = g/avg, θ = θ − εb.
        let config = RmspropConfig { momentum: 0.5, centered: true, ..RmspropConfig::new(Convention::Torch) };
        let (r, m) = (0.01 * 4.0, 0.01 * 2.0);
        let b1 = 2.0 / ((r - m * m).sqrt() + 1e-8);
        let t1 = 1.0 - 0.01 * b1;
        let g2 = 2.0 * t1;
        let r2 = 0.99 * r + 0.01 * g2 * g2;
        let m2 = m + 0.01 * (g2 - m);
        let b2 = 0.5 * b1 + g2 / ((r2 - m2 * m2).sqrt() + 1e-8);
        let t2 = t1 - 0.01 * b2;
        let path = run_steps(config, &[1.0], quadratic, 0.01, 2);
        assert!((path[0][0] - t1).abs() < 1e-14);
        assert!((path[1][0] - t2).abs() < 1e-14);
    }

    #[test]
    fn torch_centered_without_momentum_by_hand() {
        // torch: r = 0.99r + 0.01g², ḡ = 0.99ḡ + 0.01g, θ = θ − εg/(√(r − ḡ²) + δ), on ½·2θ².
        let config = RmspropConfig { centered: true, ..RmspropConfig::new(Convention::Torch) };
        let (r1, m1) = (0.01 * 4.0, 0.01 * 2.0);
        let t1 = 1.0 - 0.01 * 2.0 / ((r1 - m1 * m1).sqrt() + 1e-8);
        let g2 = 2.0 * t1;
        let (r2, m2) = (0.99 * r1 + 0.01 * g2 * g2, 0.99 * m1 + 0.01 * g2);
        let t2 = t1 - 0.01 * g2 / ((r2 - m2 * m2).sqrt() + 1e-8);
        let path = run_steps(config, &[1.0], quadratic, 0.01, 2);
        assert!((path[0][0] - t1).abs() < 1e-14, "{path:?}");
        assert!((path[1][0] - t2).abs() < 1e-14, "{path:?}");
    }

    #[test]
    fn first_step_never_exceeds_lr_over_root_one_minus_rho() {
        // From rest, |Δθ| = ε|g|/√(δ + (1 − ρ)g²) < ε/√(1 − ρ) for every g.
        for g in [1e-8, 1e-3, 1.0, 1e3, 1e8] {
            let path = run_steps(RmspropConfig::default(), &[0.0], |_| vec![g], 0.01, 1);
            assert!(path[0][0].abs() <= 0.01 / 0.1f64.sqrt() * (1.0 + 1e-12));
        }
    }

    #[test]
    fn zero_gradient_from_rest_does_not_move() {
        let path = run_steps(RmspropConfig::nesterov(Convention::Torch), &[3.0], |_| vec![0.0], 0.01, 3);
        assert!(path.iter().all(|p| p[0] == 3.0));
    }
}
