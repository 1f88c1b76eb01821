//! The largest stable rate of the optimizer in use, on the local quadratic model.
//!
//! On L(θ) ≈ ½θᵀHθ every eigen-direction of H (eigenvalue λ > 0) evolves on its own, and a
//! method with a fixed rate ε is stable when that direction's iteration does not grow:
//! - plain gradient descent, θ ← θ − εg: θ ← (1 − ελ)θ, stable for ελ < 2, so ε < 2/λ_max;
//! - heavy-ball momentum α (Algorithm 8.2; PyTorch's μ): θ_{k+1} = θ_k − ελθ_k + α(θ_k − θ_{k−1}),
//!   characteristic polynomial z² − (1 + α − ελ)z + α, whose roots lie inside the unit circle
//!   for 0 < ελ < 2(1 + α): ε < 2(1 + α)/λ_max (19/λ_max at α = 0.9);
//! - Nesterov momentum (Algorithm 8.3, and PyTorch's form): z² − (1 + α)(1 − ελ)z + α(1 − ελ),
//!   stable for 0 < ελ < 2(1 + α)/(1 + 2α) (1.36/λ_max at α = 0.9; by the Jury conditions).
//!
//! PyTorch's dampening τ scales the steady-state step to ε(1 − τ), and coupled weight decay w
//! adds w to every eigenvalue, so the limits become 2(1 + α)/((1 − τ)(λ_max + w)) and alike.
//! For the adaptive methods (AdaGrad, RMSProp, Adam and the rest) the step is preconditioned by
//! running statistics of the gradient, and no limit in terms of λ_max alone is known: there is
//! none to state.

use descent_optim::{Algorithm, OptimizerConfig};

/// How the largest stable rate of `optimizer` follows from λ_max, as a formula (for reports);
/// `None` where no limit is known.
pub fn rule(optimizer: &OptimizerConfig) -> Option<String> {
    let Algorithm::Sgd(sgd) = optimizer.algorithm else { return None };
    if optimizer.maximize {
        return None;
    }
    let numerator = if sgd.momentum > 0.0 { "2(1 + α)" } else { "2" };
    let mut factors = Vec::new();
    if sgd.nesterov {
        factors.push("(1 + 2α)");
    }
    if sgd.dampening > 0.0 {
        factors.push("(1 − τ)");
    }
    factors.push(if optimizer.weight_decay > 0.0 { "(λ_max + w)" } else { "λ_max" });
    let denominator = factors.concat();
    Some(if factors.len() == 1 { format!("{numerator}/{denominator}") } else { format!("{numerator}/({denominator})") })
}

/// The largest rate at which `optimizer` is stable on a quadratic whose largest eigenvalue is
/// `lambda_max`; `None` where no such limit is known (adaptive methods, ascent) or λ_max (with
/// the weight decay) is not positive.
pub fn stable_rate(optimizer: &OptimizerConfig, lambda_max: f64) -> Option<f64> {
    let Algorithm::Sgd(sgd) = optimizer.algorithm else { return None };
    let curvature = lambda_max + optimizer.weight_decay;
    if optimizer.maximize || curvature.is_nan() || curvature <= 0.0 {
        return None;
    }
    let momentum = sgd.momentum;
    let numerator = if sgd.nesterov { 2.0 * (1.0 + momentum) / (1.0 + 2.0 * momentum) } else { 2.0 * (1.0 + momentum) };
    Some(numerator / ((1.0 - sgd.dampening) * curvature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use descent_optim::{Convention, Optimizer, SgdConfig};

    /// Runs `optimizer` at `lr` for 2,000 steps on ½λθ² from θ = 1 and returns |θ| at the end.
    fn final_distance(optimizer: &OptimizerConfig, lambda: f64, lr: f64) -> f64 {
        let mut run = Optimizer::<f64>::from_config(optimizer).unwrap();
        let mut theta = [1.0];
        for _ in 0..2000 {
            let gradient = [lambda * theta[0]];
            run.step(&mut theta, &gradient, lr).unwrap();
        }
        theta[0].abs()
    }

    #[test]
    fn each_limit_separates_convergence_from_divergence_of_the_real_optimizer() {
        // The limits are derived on paper above; here the optimizers themselves are run just
        // inside (0.98×) and just outside (1.02×) each one, on λ = 50.
        let lambda = 50.0;
        let mut configs = Vec::new();
        for convention in [Convention::Book, Convention::Torch] {
            for name in ["sgd", "momentum", "nesterov"] {
                configs.push(OptimizerConfig::named(name, convention).unwrap());
            }
        }
        let mut damped = OptimizerConfig::named("momentum", Convention::Torch).unwrap();
        damped.algorithm = Algorithm::Sgd(SgdConfig { dampening: 0.5, ..SgdConfig::momentum(Convention::Torch) });
        configs.push(damped);
        let mut decayed = OptimizerConfig::named("momentum", Convention::Torch).unwrap();
        decayed.weight_decay = 10.0;
        configs.push(decayed);
        for optimizer in &configs {
            let limit = stable_rate(optimizer, lambda).unwrap();
            assert!(final_distance(optimizer, lambda, 0.98 * limit) < 1e-3, "{optimizer:?} at 0.98 × {limit}");
            assert!(final_distance(optimizer, lambda, 1.02 * limit) > 1e3, "{optimizer:?} at 1.02 × {limit}");
        }
        // Hand values: 2/50, 2·1.9/50 and 2·1.9/(2.8·50).
        let named = |name| OptimizerConfig::named(name, Convention::Book).unwrap();
        assert!((stable_rate(&named("sgd"), lambda).unwrap() - 0.04).abs() < 1e-15);
        assert!((stable_rate(&named("momentum"), lambda).unwrap() - 0.076).abs() < 1e-15);
        assert!((stable_rate(&named("nesterov"), lambda).unwrap() - 3.8 / 140.0).abs() < 1e-15);
    }

    #[test]
    fn adaptive_methods_and_non_positive_curvature_have_no_limit() {
        for name in ["adam", "rmsprop", "adagrad"] {
            let optimizer = OptimizerConfig::named(name, Convention::Book).unwrap();
            assert_eq!(stable_rate(&optimizer, 10.0), None, "{name}");
            assert_eq!(rule(&optimizer), None, "{name}");
        }
        let sgd = OptimizerConfig::named("sgd", Convention::Book).unwrap();
        assert_eq!(stable_rate(&sgd, -3.0), None);
        assert_eq!(stable_rate(&sgd, f64::NAN), None);
        assert_eq!(rule(&sgd).as_deref(), Some("2/λ_max"));
        let momentum = OptimizerConfig::named("momentum", Convention::Book).unwrap();
        assert_eq!(rule(&momentum).as_deref(), Some("2(1 + α)/λ_max"));
    }
}
