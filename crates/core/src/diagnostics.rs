//! The chapter's challenges measured on a real run: curvature along the gradient and along the
//! update actually taken, against their first-order gains (ill-conditioning, §8.2.1); the
//! sharpest curvature λ_max and the largest rate at which the optimizer in use is stable; the
//! Hessian's trace, the gradient's signal-to-noise ratio and where each update landed on the
//! local parabola (after Cockpit: Schneider, Dangel & Hennig 2021); how far the parameters have
//! moved; and per-layer gradient and update sizes (exploding and vanishing gradients, §8.2.5).
//!
//! At a diagnosed update, on a fixed diagnostic batch of training examples (the same every time,
//! so that rows compare), before the update: the loss L(θ), g = ∇L(θ), gᵀHg (Hg by a central
//! difference of gradients, see [`crate::curvature`]), the first-order decrease εgᵀg and the
//! second-order term ½ε²gᵀHg that a plain step −εg would make, λ_max by power iteration to a
//! stated tolerance, tr(H) by Hutchinson's estimator, the gradient's signal-to-noise ratio from
//! the per-example gradients ([`noise`]) and ‖θ − θ₀‖. After it, for the update Δθ the optimizer
//! really made (its own minibatch, momentum, adaptive scaling, clipping): gᵀΔθ and ΔθᵀHΔθ, the
//! first- and second-order terms of that step, the change of L it produced, and α ([`alpha`]).
//!
//! Cost per diagnosed update, in gradient evaluations of the diagnostic batch: 2 (g, Hg) +
//! 2·(power iterations) + 2·(trace probes) + 3 (HΔθ and the gradient after the update), plus one
//! single-example gradient per example of the batch for the signal-to-noise ratio.

pub mod alpha;
pub mod noise;
pub mod stability;

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
    /// The power iteration stops once ‖Hv − ρv‖ ≤ `tolerance`·|ρ| (ρ the estimate): some
    /// eigenvalue then lies within that relative distance of ρ.
    pub tolerance: f64,
    /// Training examples in the diagnostic batch.
    pub examples: usize,
    /// Also record per-layer gradient norms, parameter norms and update-to-parameter ratios.
    pub layer_stats: bool,
    /// Rademacher probes of Hutchinson's trace estimator (0: do not estimate tr(H)).
    #[serde(default = "default_trace_probes")]
    pub trace_probes: usize,
}

fn default_trace_probes() -> usize {
    10
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        DiagnosticsConfig {
            every: 50,
            power_iterations: 50,
            tolerance: 1e-2,
            examples: 500,
            layer_stats: false,
            trace_probes: default_trace_probes(),
        }
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

/// One row of `diagnostics.csv`: one diagnosed update. NaN where a value was not measured.
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
    /// εgᵀg: the decrease a plain step −εg promises to first order.
    pub first_order: f64,
    /// ½ε²gᵀHg: what curvature takes back of a plain step. When it exceeds the first-order
    /// term, the step −εg would increase the loss.
    pub second_order: f64,
    /// L(θ after the real update) − L(θ), on the same batch.
    pub actual_change: f64,
    /// Largest-magnitude eigenvalue of H (NaN when not estimated).
    pub lambda_max: f64,
    /// second_order / first_order.
    pub ratio: f64,
    /// The largest rate at which the optimizer in use is stable on the local quadratic
    /// ([`stability`]): 2/λ_max for plain SGD; NaN where no limit is known (adaptive methods).
    pub stable_lr: f64,
    /// The rate ε of this update.
    pub lr: f64,
    /// Hessian-vector products the power iteration used.
    pub power_iterations: usize,
    /// ‖Hv − ρv‖/|ρ| where the power iteration stopped.
    pub power_residual: f64,
    /// Whether the power iteration reached its tolerance (false: it hit its cap, and λ_max is a
    /// lower bound of the largest magnitude).
    pub power_converged: bool,
    /// ‖Δθ‖ of the real update.
    pub update_norm: f64,
    /// gᵀΔθ: the real update's first-order change of L (negative when it goes downhill).
    pub update_slope: f64,
    /// ΔθᵀHΔθ: twice the real update's second-order term.
    pub update_curvature: f64,
    /// ∇L(θ + Δθ)ᵀΔθ: the slope along the update where it ended.
    pub slope_after: f64,
    /// Where the update landed on the local parabola along it ([`alpha`]): −1 no move, 0 its
    /// minimum, 1 the other side at the starting height.
    pub alpha: f64,
    /// tr(H) by Hutchinson's estimator.
    pub hessian_trace: f64,
    /// The standard error of `hessian_trace` over its probes.
    pub trace_error: f64,
    /// ‖ḡ‖²/tr Σ over the per-example gradients of the diagnostic batch ([`noise`]).
    pub grad_snr: f64,
    /// ‖θ − θ₀‖ before the update (θ₀ where the monitor started).
    pub distance: f64,
    /// ε / stable_lr: below 1 inside the stability limit, above 1 beyond it.
    pub rate_ratio: f64,
    /// Examples in the minibatch of the update (0 for a 2-D function, which has none).
    pub batch: usize,
}

/// The columns of `diagnostics.csv`.
pub const DIAGNOSTICS_HEADER: &str = "step,loss,grad_norm,gHg,first_order,second_order,actual_change,lambda_max,ratio,\
stable_lr,lr,power_iterations,power_residual,power_converged,update_norm,update_slope,update_curvature,slope_after,\
alpha,hessian_trace,trace_error,grad_snr,distance,rate_ratio,batch";

impl CurvatureRow {
    /// A row with the measurements before the update and NaN for the rest.
    fn before_update(step: u64, lr: f64) -> Self {
        CurvatureRow {
            step,
            loss: f64::NAN,
            grad_norm: f64::NAN,
            g_hg: f64::NAN,
            first_order: f64::NAN,
            second_order: f64::NAN,
            actual_change: f64::NAN,
            lambda_max: f64::NAN,
            ratio: f64::NAN,
            stable_lr: f64::NAN,
            lr,
            power_iterations: 0,
            power_residual: f64::NAN,
            power_converged: false,
            update_norm: f64::NAN,
            update_slope: f64::NAN,
            update_curvature: f64::NAN,
            slope_after: f64::NAN,
            alpha: f64::NAN,
            hessian_trace: f64::NAN,
            trace_error: f64::NAN,
            grad_snr: f64::NAN,
            distance: f64::NAN,
            rate_ratio: f64::NAN,
            batch: 0,
        }
    }

    /// The row as CSV, numbers as the shortest decimal that parses back exactly (and
    /// `power_converged` as 0 or 1).
    pub fn csv_row(&self) -> String {
        format!(
            "{},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{},{:?},{},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{:?},{}",
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
            self.power_iterations,
            self.power_residual,
            u8::from(self.power_converged),
            self.update_norm,
            self.update_slope,
            self.update_curvature,
            self.slope_after,
            self.alpha,
            self.hessian_trace,
            self.trace_error,
            self.grad_snr,
            self.distance,
            self.rate_ratio,
            self.batch
        )
    }

    /// A row written by [`csv_row`](Self::csv_row), or `None` if it is not one. Rows of the
    /// twelve columns written before the update's terms were measured read with NaN for those.
    pub fn parse(line: &str) -> Option<Self> {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != 12 && fields.len() != DIAGNOSTICS_HEADER.split(',').count() {
            return None;
        }
        let number = |index: usize| fields.get(index).map_or(Some(f64::NAN), |text| text.parse::<f64>().ok());
        let mut row = CurvatureRow::before_update(fields[0].parse().ok()?, number(10)?);
        [
            row.loss,
            row.grad_norm,
            row.g_hg,
            row.first_order,
            row.second_order,
            row.actual_change,
            row.lambda_max,
            row.ratio,
            row.stable_lr,
        ] = [
            number(1)?,
            number(2)?,
            number(3)?,
            number(4)?,
            number(5)?,
            number(6)?,
            number(7)?,
            number(8)?,
            number(9)?,
        ];
        row.power_iterations = fields[11].parse().ok()?;
        if fields.len() == 12 {
            return Some(row);
        }
        row.power_residual = number(12)?;
        row.power_converged = match fields[13] {
            "1" => true,
            "0" => false,
            _ => return None,
        };
        [
            row.update_norm,
            row.update_slope,
            row.update_curvature,
            row.slope_after,
            row.alpha,
            row.hessian_trace,
            row.trace_error,
            row.grad_snr,
            row.distance,
            row.rate_ratio,
        ] = [
            number(14)?,
            number(15)?,
            number(16)?,
            number(17)?,
            number(18)?,
            number(19)?,
            number(20)?,
            number(21)?,
            number(22)?,
            number(23)?,
        ];
        row.batch = fields[24].parse().ok()?;
        Some(row)
    }

    /// gᵀΔθ + ½ΔθᵀHΔθ: the change of L the quadratic model predicts for the real update.
    pub fn predicted_change(&self) -> f64 {
        self.update_slope + 0.5 * self.update_curvature
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

/// What a measurement needs besides the loss: the settings, the optimizer in use (for its
/// stability limit), the seed of the random probes and θ₀ (for the distance travelled).
#[derive(Debug, Clone, Copy)]
pub struct Setting<'a, F> {
    /// What to measure.
    pub config: &'a DiagnosticsConfig,
    /// The optimizer making the updates.
    pub optimizer: &'a descent_optim::OptimizerConfig,
    /// Varies the power iteration's start and the trace's probes (with the step).
    pub seed: u64,
    /// The parameters where the run started.
    pub initial: &'a [F],
}

/// Buffers of the measurements, sized once for `dim` parameters.
#[derive(Debug, Clone)]
pub struct Buffers<F> {
    /// ∇L(θ) at the last [`measure`].
    pub gradient: Vec<F>,
    /// A Hessian-vector product.
    pub product: Vec<F>,
    /// A probe or the update Δθ.
    pub direction: Vec<F>,
    /// ∇L after the update, or a per-example gradient.
    pub other: Vec<F>,
    /// The central differences' own buffers.
    pub scratch: Scratch<F>,
}

impl<F: descent_optim::Float> Buffers<F> {
    /// Buffers for `dim` parameters.
    pub fn new(dim: usize) -> Self {
        let zeros = || vec![F::ZERO; dim];
        Buffers { gradient: zeros(), product: zeros(), direction: zeros(), other: zeros(), scratch: Scratch::new(dim) }
    }
}

/// The part of a row measured at θ before the update. `gradient(θ, g)` writes ∇L(θ) and
/// returns L(θ); ∇L(θ) stays in `buffers.gradient` for [`measure_update`] and the
/// signal-to-noise ratio.
pub fn measure<F: descent_optim::Float>(
    gradient: &mut dyn FnMut(&[F], &mut [F]) -> f64,
    theta: &[F],
    lr: f64,
    step: u64,
    setting: &Setting<'_, F>,
    buffers: &mut Buffers<F>,
) -> CurvatureRow {
    let Buffers { gradient: g, product: hg, direction: probe, scratch, .. } = buffers;
    let config = setting.config;
    let mut row = CurvatureRow::before_update(step, lr);
    row.loss = gradient(theta, g);
    let mut grad_only = |point: &[F], out: &mut [F]| {
        gradient(point, out);
    };
    curvature::hessian_vector(&mut grad_only, theta, g, hg, scratch);
    let g_g = curvature::dot(g, g);
    row.g_hg = curvature::dot(g, hg);
    let mut hv = |v: &[F], out: &mut [F]| curvature::hessian_vector(&mut grad_only, theta, v, out, scratch);
    if config.power_iterations > 0 {
        let eigen = curvature::largest_eigenvalue(
            &mut hv,
            theta.len(),
            config.power_iterations,
            config.tolerance,
            setting.seed ^ step,
        );
        row.lambda_max = eigen.value;
        row.power_iterations = eigen.iterations;
        row.power_residual = eigen.residual;
        row.power_converged = eigen.converged;
    }
    if config.trace_probes > 0 {
        let seed = setting.seed ^ step.rotate_left(32) ^ 0x7ace;
        let trace = curvature::hutchinson_trace(&mut hv, config.trace_probes, seed, probe, hg);
        row.hessian_trace = trace.value;
        row.trace_error = trace.standard_error;
    }
    row.grad_norm = g_g.sqrt();
    row.first_order = lr * g_g;
    row.second_order = 0.5 * lr * lr * row.g_hg;
    row.ratio = if row.first_order > 0.0 { row.second_order / row.first_order } else { f64::NAN };
    row.stable_lr = stability::stable_rate(setting.optimizer, row.lambda_max).unwrap_or(f64::NAN);
    row.rate_ratio = lr / row.stable_lr;
    row.distance = theta
        .iter()
        .zip(setting.initial)
        .map(|(&now, &start)| (now.to_f64() - start.to_f64()).powi(2))
        .sum::<f64>()
        .sqrt();
    row
}

/// The part of `row` that needs the update the optimizer really made, from θ = `before` to
/// `after`: its size, its first- and second-order terms gᵀΔθ and ΔθᵀHΔθ (H at `before`), the
/// loss change it produced and α. `buffers.gradient` must still hold ∇L(before) from
/// [`measure`]. Three gradient evaluations.
pub fn measure_update<F: descent_optim::Float>(
    gradient: &mut dyn FnMut(&[F], &mut [F]) -> f64,
    before: &[F],
    after: &[F],
    row: &mut CurvatureRow,
    buffers: &mut Buffers<F>,
) {
    let Buffers { gradient: g, product, direction: update, other: g_after, scratch } = buffers;
    for (d, (&b, &a)) in update.iter_mut().zip(before.iter().zip(after)) {
        *d = F::from_f64(a.to_f64() - b.to_f64());
    }
    row.update_norm = curvature::norm(update);
    row.update_slope = curvature::dot(g, update);
    let loss_after = gradient(after, g_after);
    row.actual_change = loss_after - row.loss;
    row.slope_after = curvature::dot(g_after, update);
    if row.update_norm > 0.0 {
        let mut grad_only = |point: &[F], out: &mut [F]| {
            gradient(point, out);
        };
        curvature::hessian_vector(&mut grad_only, before, update, product, scratch);
        row.update_curvature = curvature::dot(update, product);
    } else {
        row.update_curvature = 0.0;
    }
    row.alpha = alpha::alpha(row.loss, loss_after, row.update_slope, row.slope_after);
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
/// every `config.every`-th update (the "diagnostic batch" is the function itself, so there are
/// no per-example gradients and no signal-to-noise ratio).
pub fn minimize(
    function: &Function2d,
    optimizer: &descent_optim::OptimizerConfig,
    settings: &RunSettings,
    config: &DiagnosticsConfig,
) -> Result<(Trajectory, Vec<CurvatureRow>), Error> {
    config.validate()?;
    let mut rows = Vec::new();
    let mut buffers = Buffers::new(2);
    let mut gradient = |theta: &[f64], out: &mut [f64]| {
        out.copy_from_slice(&function.gradient(theta[0], theta[1]));
        function.value(theta[0], theta[1])
    };
    let setting = Setting { config, optimizer, seed: 0, initial: &settings.start };
    let path = trajectory::run_observed(function, optimizer, settings, &mut |update| {
        if config.is_due(update.step) {
            let mut row = measure(&mut gradient, &update.before, update.lr, update.step, &setting, &mut buffers);
            measure_update(&mut gradient, &update.before, &update.after, &mut row, &mut buffers);
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

    #[test]
    fn a_step_to_the_exact_line_minimum_has_alpha_zero_and_the_trace_is_exact() {
        // ½(x² + 100y²) from (−1.5, 0.5): g = (−1.5, 50), gᵀg = 2502.25, gᵀHg = 250002.25, so
        // the exact minimum along −g is at ε* = gᵀg/gᵀHg. One SGD step at ε* lands on it: α = 0.
        // H = diag(1, 100): tr H = 101 from every Rademacher probe.
        let function = Function2d::named("quadratic", 100.0).unwrap();
        let sgd = OptimizerConfig::named("sgd", Convention::Book).unwrap();
        let line_minimum = 2502.25 / 250_002.25;
        let settings =
            RunSettings { start: [-1.5, 0.5], steps: 1, schedule: Schedule::constant(line_minimum), clip: None };
        let config = DiagnosticsConfig { every: 1, ..DiagnosticsConfig::default() };
        let (_, rows) = minimize(&function, &sgd, &settings, &config).unwrap();
        let row = &rows[0];
        assert!(row.alpha.abs() < 1e-6, "{row:?}");
        assert!((row.hessian_trace - 101.0).abs() < 1e-6 && row.trace_error.abs() < 1e-6, "{row:?}");
        assert!(row.grad_snr.is_nan() && row.distance == 0.0 && row.batch == 0, "{row:?}");
        // The update is −ε*g: gᵀΔθ = −ε*gᵀg and ΔθᵀHΔθ = ε*²gᵀHg.
        assert!((row.update_slope + line_minimum * 2502.25).abs() < 1e-9, "{row:?}");
        assert!((row.update_curvature - line_minimum.powi(2) * 250_002.25).abs() < 1e-6, "{row:?}");
    }

    #[test]
    fn momentum_is_measured_on_the_update_it_takes() {
        // Momentum on ½(x² + 100y²) at ε = 0.01, α = 0.9: after the first update the velocity
        // makes Δθ differ from −εg. On a quadratic the second-order model of the real update is
        // exact (ΔL = gᵀΔθ + ½ΔθᵀHΔθ), while the plain step's terms −εgᵀg + ½ε²gᵀHg are not the
        // change that happened. The stable rate is 2(1 + 0.9)/100 = 0.038.
        let function = Function2d::named("quadratic", 100.0).unwrap();
        let momentum = OptimizerConfig::named("momentum", Convention::Book).unwrap();
        let settings = RunSettings { start: [-1.5, 0.5], steps: 5, schedule: Schedule::constant(0.01), clip: None };
        let config = DiagnosticsConfig { every: 1, ..DiagnosticsConfig::default() };
        let (path, rows) = minimize(&function, &momentum, &settings, &config).unwrap();
        for (row, pair) in rows.iter().zip(path.points.windows(2)) {
            let (dx, dy) = (pair[1].x - pair[0].x, pair[1].y - pair[0].y);
            let [gx, gy] = function.gradient(pair[0].x, pair[0].y);
            assert!((row.update_slope - (gx * dx + gy * dy)).abs() < 1e-9, "{row:?}");
            assert!((row.update_curvature - (dx * dx + 100.0 * dy * dy)).abs() < 1e-6 * (1.0 + row.update_curvature));
            assert!((row.actual_change - row.predicted_change()).abs() < 1e-9, "{row:?}");
            // λ_max to the power iteration's tolerance of 1e-2 (here within 1e-4).
            assert!((row.stable_lr / 0.038 - 1.0).abs() < 1e-4, "{row:?}");
            assert!((row.rate_ratio / (0.01 / 0.038) - 1.0).abs() < 1e-4, "{row:?}");
            let start = [-1.5, 0.5];
            let distance = ((pair[0].x - start[0]).powi(2) + (pair[0].y - start[1]).powi(2)).sqrt();
            assert!((row.distance - distance).abs() < 1e-12, "{row:?}");
        }
        // At update 1 the velocity carries y from 0 to −0.45: the loss rises by about 10, while a
        // plain step would have lowered it by about 0.02.
        let plain = -rows[1].first_order + rows[1].second_order;
        assert!(plain < 0.0 && rows[1].actual_change > 10.0, "{:?}", rows[1]);
    }

    #[test]
    fn rows_read_back_as_written_and_old_rows_still_read() {
        let function = Function2d::named("rosenbrock", 100.0).unwrap();
        let adam = OptimizerConfig::named("adam", Convention::Torch).unwrap();
        let settings = RunSettings { start: [-1.5, 0.5], steps: 3, schedule: Schedule::constant(0.01), clip: None };
        let (_, rows) =
            minimize(&function, &adam, &settings, &DiagnosticsConfig { every: 1, ..Default::default() }).unwrap();
        for row in &rows {
            let back = CurvatureRow::parse(&row.csv_row()).unwrap();
            // NaN ≠ NaN: compare the text.
            assert_eq!(back.csv_row(), row.csv_row());
            assert!(row.stable_lr.is_nan(), "no limit is known for Adam: {row:?}");
        }
        assert_eq!(DIAGNOSTICS_HEADER.split(',').count(), rows[0].csv_row().split(',').count());
        let old = CurvatureRow::parse("40,2.25,0.5,-0.125,0.0025,-1e-6,0.01,35.0,-0.0004,0.0571,0.01,17").unwrap();
        assert_eq!((old.step, old.g_hg, old.power_iterations), (40, -0.125, 17));
        assert!(old.alpha.is_nan() && old.update_slope.is_nan());
        assert!(CurvatureRow::parse("40,2.25,0.5").is_none());
    }
}
