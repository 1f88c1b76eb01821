//! The chapter's challenges measured on a real run (SPEC §5): curvature along the gradient
//! against the gradient's size (ill-conditioning, §8.2.1), the sharpest curvature λ_max and the
//! largest stable rate 2/λ_max, and per-layer gradient and update sizes (exploding and vanishing
//! gradients, §8.2.5).
//!
//! At a diagnosed step, on a fixed diagnostic batch of training examples (the same every time, so
//! that rows compare): the loss L(θ), g = ∇L(θ), gᵀg, gᵀHg (Hg by a central difference of
//! gradients, see [`crate::curvature`]), the first-order decrease εgᵀg and the second-order term
//! ½ε²gᵀHg a step −εg would make, then the change of L the optimizer's real step produced (with
//! its own minibatch, momentum, clipping). Cost: 2 + 2·(power iterations) gradient evaluations of
//! the diagnostic batch per diagnosed step, plus one forward pass.

use serde::{Deserialize, Serialize};

use crate::curvature::{self, Scratch};
use crate::functions::Function2d;
use crate::trajectory::{self, RunSettings, Trajectory};
use crate::Error;

/// What to measure, and how often.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticsConfig {
    /// Diagnose before every `every`-th update (steps 0, every, 2·every, …).
    pub every: u64,
    /// Most Hessian-vector products of the power iteration for λ_max (0: do not estimate λ_max).
    pub power_iterations: usize,
    /// Relative change of the estimate at which the power iteration stops.
    pub tolerance: f64,
    /// Training examples in the diagnostic batch.
    pub examples: usize,
    /// Also record per-layer gradient norms, parameter norms and update-to-parameter ratios.
    pub layer_stats: bool,
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        DiagnosticsConfig { every: 50, power_iterations: 20, tolerance: 1e-3, examples: 500, layer_stats: false }
    }
}

impl DiagnosticsConfig {
    /// Checks the settings, naming the one at fault.
    pub fn validate(&self) -> Result<(), Error> {
        if self.every == 0 {
            return Err(Error::Invalid { field: "diagnose-every", message: "must be at least 1", value: "0".into() });
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(Error::Invalid {
                field: "power-tolerance",
                message: "must be a positive number",
                value: self.tolerance.to_string(),
            });
        }
        if self.examples == 0 {
            return Err(Error::Invalid {
                field: "diagnose-examples",
                message: "must be at least 1",
                value: "0".into(),
            });
        }
        Ok(())
    }

    /// Whether the update after `step` updates is diagnosed.
    pub fn is_due(&self, step: u64) -> bool {
        step.is_multiple_of(self.every)
    }
}

/// One row of `diagnostics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvatureRow {
    /// Updates made before this one (θ is θ_step).
    pub step: u64,
    /// L(θ) on the diagnostic batch.
    pub loss: f64,
    /// ‖g‖.
    pub grad_norm: f64,
    /// gᵀHg.
    pub g_hg: f64,
    /// εgᵀg: the decrease a step −εg promises to first order.
    pub first_order: f64,
    /// ½ε²gᵀHg: what curvature takes back. When it exceeds the first-order term, the step −εg
    /// would increase the loss.
    pub second_order: f64,
    /// L(θ after the real update) − L(θ), on the same batch.
    pub actual_change: f64,
    /// Largest-magnitude eigenvalue of H (NaN when not estimated).
    pub lambda_max: f64,
    /// second_order / first_order.
    pub ratio: f64,
    /// 2/λ_max: the largest rate at which plain gradient descent is stable on the local quadratic.
    pub stable_lr: f64,
    /// The rate ε of this update.
    pub lr: f64,
    /// Hessian-vector products the power iteration used.
    pub power_iterations: usize,
}

/// The columns of `diagnostics.csv`.
pub const DIAGNOSTICS_HEADER: &str =
    "step,loss,grad_norm,gHg,first_order,second_order,actual_change,lambda_max,ratio,stable_lr,lr,power_iterations";

impl CurvatureRow {
    /// The row as CSV, numbers as the shortest decimal that parses back exactly.
    pub fn csv_row(&self) -> String {
        format!(
            "{},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{}",
            self.step,
            self.loss,
            self.grad_norm,
            self.g_hg,
            self.first_order,
            self.second_order,
            self.actual_change,
            self.lambda_max,
            self.ratio,
            self.stable_lr,
            self.lr,
            self.power_iterations
        )
    }
}

impl CurvatureRow {
    /// A row written by [`csv_row`](Self::csv_row), or `None` if it is not one.
    pub fn parse(line: &str) -> Option<Self> {
        let fields: Vec<&str> = line.split(',').collect();
        let [step, loss, grad_norm, g_hg, first_order, second_order, actual_change, lambda_max, ratio, stable_lr, lr, iterations] =
            fields[..]
        else {
            return None;
        };
        let number = |text: &str| text.parse::<f64>().ok();
        Some(CurvatureRow {
            step: step.parse().ok()?,
            loss: number(loss)?,
            grad_norm: number(grad_norm)?,
            g_hg: number(g_hg)?,
            first_order: number(first_order)?,
            second_order: number(second_order)?,
            actual_change: number(actual_change)?,
            lambda_max: number(lambda_max)?,
            ratio: number(ratio)?,
            stable_lr: number(stable_lr)?,
            lr: number(lr)?,
            power_iterations: iterations.parse().ok()?,
        })
    }
}

/// One row of `layer_stats.csv`: one layer (or tensor group) at one diagnosed step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerRow {
    /// Updates made before this one.
    pub step: u64,
    /// Layer number, from 1 at the input.
    pub layer: usize,
    /// ‖∂L/∂θ_layer‖ of the minibatch gradient the update used (before clipping).
    pub grad_norm: f64,
    /// ‖θ_layer‖ before the update.
    pub param_norm: f64,
    /// ‖Δθ_layer‖ / ‖θ_layer‖: how much the update changed the layer, relatively.
    pub update_ratio: f64,
}

/// One row of `time_grads.csv`: for a recurrent model at a diagnosed step, how much of the
/// minibatch loss's gradient reached time step t, and the spectral radius of W.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeRow {
    /// Updates made before this one.
    pub step: u64,
    /// ρ(W) after the update.
    pub spectral_radius: f64,
    /// Time step, from 1.
    pub t: usize,
    /// ‖∂L/∂h_t‖ of the minibatch the update used.
    pub hidden_grad_norm: f64,
}

/// The columns of `time_grads.csv`.
pub const TIME_GRADS_HEADER: &str = "step,spectral_radius,t,hidden_grad_norm";

impl TimeRow {
    /// The row as CSV.
    pub fn csv_row(&self) -> String {
        format!("{},{:?},{},{:?}", self.step, self.spectral_radius, self.t, self.hidden_grad_norm)
    }

    /// A row written by [`csv_row`](Self::csv_row), or `None` if it is not one.
    pub fn parse(line: &str) -> Option<Self> {
        let fields: Vec<&str> = line.split(',').collect();
        let [step, radius, t, norm] = fields[..] else { return None };
        Some(TimeRow {
            step: step.parse().ok()?,
            spectral_radius: radius.parse().ok()?,
            t: t.parse().ok()?,
            hidden_grad_norm: norm.parse().ok()?,
        })
    }
}

/// The columns of `layer_stats.csv`.
pub const LAYER_STATS_HEADER: &str = "step,layer,grad_norm,param_norm,update_ratio";

impl LayerRow {
    /// A row written by [`csv_row`](Self::csv_row), or `None` if it is not one.
    pub fn parse(line: &str) -> Option<Self> {
        let fields: Vec<&str> = line.split(',').collect();
        let [step, layer, grad_norm, param_norm, update_ratio] = fields[..] else { return None };
        Some(LayerRow {
            step: step.parse().ok()?,
            layer: layer.parse().ok()?,
            grad_norm: grad_norm.parse().ok()?,
            param_norm: param_norm.parse().ok()?,
            update_ratio: update_ratio.parse().ok()?,
        })
    }

    /// The row as CSV.
    pub fn csv_row(&self) -> String {
        format!("{},{},{:?},{:?},{:?}", self.step, self.layer, self.grad_norm, self.param_norm, self.update_ratio)
    }
}

/// The curvature part of a row at θ: everything but the loss change the step will produce.
/// `gradient(θ, g)` writes ∇L(θ) and returns L(θ). `scratch` and the three buffers are sized to
/// θ. The seed varies the power iteration's start.
#[allow(clippy::too_many_arguments)]
pub fn measure<F: descent_optim::Float>(
    gradient: &mut dyn FnMut(&[F], &mut [F]) -> f64,
    theta: &[F],
    lr: f64,
    step: u64,
    config: &DiagnosticsConfig,
    seed: u64,
    buffers: &mut [Vec<F>; 2],
    scratch: &mut Scratch<F>,
) -> CurvatureRow {
    let [g, hg] = buffers;
    let loss = gradient(theta, g);
    let mut grad_only = |point: &[F], out: &mut [F]| {
        gradient(point, out);
    };
    curvature::hessian_vector(&mut grad_only, theta, g, hg, scratch);
    let g_g = curvature::dot(g, g);
    let g_hg = curvature::dot(g, hg);
    let eigen = (config.power_iterations > 0).then(|| {
        let mut hv = |v: &[F], out: &mut [F]| curvature::hessian_vector(&mut grad_only, theta, v, out, scratch);
        curvature::largest_eigenvalue(&mut hv, theta.len(), config.power_iterations, config.tolerance, seed ^ step)
    });
    let lambda_max = eigen.map_or(f64::NAN, |e| e.value);
    let first_order = lr * g_g;
    let second_order = 0.5 * lr * lr * g_hg;
    CurvatureRow {
        step,
        loss,
        grad_norm: g_g.sqrt(),
        g_hg,
        first_order,
        second_order,
        actual_change: f64::NAN,
        lambda_max,
        ratio: if first_order > 0.0 { second_order / first_order } else { f64::NAN },
        stable_lr: if lambda_max > 0.0 { 2.0 / lambda_max } else { f64::NAN },
        lr,
        power_iterations: eigen.map_or(0, |e| e.iterations),
    }
}

/// Writes rows as CSV under `header` (NaN where a value was not measured).
pub fn to_csv(header: &str, rows: impl IntoIterator<Item = String>) -> String {
    let mut csv = format!("{header}\n");
    for row in rows {
        csv.push_str(&row);
        csv.push('\n');
    }
    csv
}

/// Runs an optimizer on a 2-D function with the curvature monitor on: the path, and a row at
/// every `config.every`-th update (the "diagnostic batch" is the function itself).
pub fn minimize(
    function: &Function2d,
    optimizer: &descent_optim::OptimizerConfig,
    settings: &RunSettings,
    config: &DiagnosticsConfig,
) -> Result<(Trajectory, Vec<CurvatureRow>), Error> {
    config.validate()?;
    let mut rows = Vec::new();
    let mut buffers = [vec![0.0; 2], vec![0.0; 2]];
    let mut scratch = Scratch::new(2);
    let mut gradient = |theta: &[f64], out: &mut [f64]| {
        out.copy_from_slice(&function.gradient(theta[0], theta[1]));
        function.value(theta[0], theta[1])
    };
    let path = trajectory::run_observed(function, optimizer, settings, &mut |update| {
        if config.is_due(update.step) {
            let mut row =
                measure(&mut gradient, &update.before, update.lr, update.step, config, 0, &mut buffers, &mut scratch);
            row.actual_change = function.value(update.after[0], update.after[1]) - row.loss;
            rows.push(row);
        }
    })?;
    Ok((path, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use descent_optim::{Convention, OptimizerConfig, Schedule};

    #[test]
    fn on_the_quadratic_lambda_max_is_the_condition_number() {
        // ½(x² + 100y²): H = diag(1, 100) everywhere, so λ_max = 100 and 2/λ_max = 0.02; gᵀHg and
        // the loss change of an SGD step are known in closed form.
        let function = Function2d::named("quadratic", 100.0).unwrap();
        let sgd = OptimizerConfig::named("sgd", Convention::Book).unwrap();
        let settings = RunSettings { start: [-1.5, 0.5], steps: 50, schedule: Schedule::constant(0.001), clip: None };
        let config = DiagnosticsConfig { every: 10, ..DiagnosticsConfig::default() };
        let (_, rows) = minimize(&function, &sgd, &settings, &config).unwrap();
        assert_eq!(rows.iter().map(|r| r.step).collect::<Vec<_>>(), vec![0, 10, 20, 30, 40]);
        let first = &rows[0];
        assert!((first.lambda_max - 100.0).abs() < 0.1, "{first:?}");
        assert!((first.stable_lr - 0.02).abs() < 1e-4);
        // g = (−1.5, 50): gᵀg = 2502.25, gᵀHg = 2.25 + 250000.
        assert!((first.grad_norm.powi(2) - 2502.25).abs() < 1e-9);
        assert!((first.g_hg - 250_002.25).abs() < 1e-3 * 250_002.25 * 1e-3);
        // On a quadratic the second-order model is exact.
        let predicted = -first.first_order + first.second_order;
        assert!((first.actual_change - predicted).abs() < 1e-9, "{first:?}");
    }
}
