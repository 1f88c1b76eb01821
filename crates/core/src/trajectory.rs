//! Running optimizers on a 2-D function and recording their paths (the lab's `optimize`).
//!
//! Everything runs in f64 so that paths can be compared with other libraries' to 1e-9.

use descent_optim::{Clip, Optimizer, OptimizerConfig, Schedule};

use crate::functions::Function2d;
use crate::Error;

/// One recorded iterate: θ after `step` updates (step 0 is the start) and f(θ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Updates made so far.
    pub step: u64,
    /// First coordinate.
    pub x: f64,
    /// Second coordinate.
    pub y: f64,
    /// f(x, y).
    pub f: f64,
}

/// The path of one optimizer.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// The optimizer's name.
    pub optimizer: String,
    /// The start and every iterate after it.
    pub points: Vec<Point>,
    /// The step at which θ or f stopped being finite, if it did; the path ends there.
    pub diverged_at: Option<u64>,
}

/// How a path is run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    /// θ₀.
    pub start: [f64; 2],
    /// Number of updates.
    pub steps: u64,
    /// ε_k; its base rate overrides the optimizer config's.
    pub schedule: Schedule,
    /// Gradient clipping, if any.
    pub clip: Option<Clip>,
}

impl Trajectory {
    /// f at the last recorded point.
    pub fn final_value(&self) -> f64 {
        self.points.last().map_or(f64::NAN, |point| point.f)
    }

    /// The first step at which f − f* < `tolerance` (f* the function's minimum), if any.
    pub fn steps_to(&self, function: &Function2d, tolerance: f64) -> Option<u64> {
        let minimum = function.minimum_value()?;
        self.points.iter().find(|point| point.f - minimum < tolerance).map(|point| point.step)
    }
}

/// Runs `config` on `function` for `settings.steps` updates.
pub fn run(function: &Function2d, config: &OptimizerConfig, settings: &RunSettings) -> Result<Trajectory, Error> {
    run_observed(function, config, settings, &mut |_| {})
}

/// One update as [`run_observed`] shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Update {
    /// Updates made before this one.
    pub step: u64,
    /// θ before it.
    pub before: [f64; 2],
    /// θ after it.
    pub after: [f64; 2],
    /// The rate it used.
    pub lr: f64,
}

/// [`run`], showing every update to `observe` (for diagnostics).
pub fn run_observed(
    function: &Function2d,
    config: &OptimizerConfig,
    settings: &RunSettings,
    observe: &mut dyn FnMut(Update),
) -> Result<Trajectory, Error> {
    settings.schedule.validate()?;
    let mut optimizer = Optimizer::<f64>::from_config(config)?.with_clip(settings.clip)?;
    let mut theta = settings.start;
    let point = |step, [x, y]: [f64; 2]| Point { step, x, y, f: function.value(x, y) };
    let mut points = Vec::with_capacity(settings.steps as usize + 1);
    points.push(point(0, theta));
    let mut diverged_at = None;
    for step in 1..=settings.steps {
        let grad = function.gradient(theta[0], theta[1]);
        let (before, lr) = (theta, settings.schedule.lr(step - 1));
        optimizer.step(&mut theta, &grad, lr)?;
        observe(Update { step: step - 1, before, after: theta, lr });
        // The path is of the point the optimizer would return: for schedule-free AdamW the
        // average x (θ holds y, where the gradient is taken), for the others θ itself.
        optimizer.swap_evaluation_point(&mut theta);
        let current = point(step, theta);
        optimizer.swap_evaluation_point(&mut theta);
        points.push(current);
        if !(current.x.is_finite() && current.y.is_finite() && current.f.is_finite()) {
            diverged_at = Some(step);
            break;
        }
    }
    Ok(Trajectory { optimizer: config.name.to_string(), points, diverged_at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use descent_optim::Convention;

    fn settings(start: [f64; 2], steps: u64, lr: f64) -> RunSettings {
        RunSettings { start, steps, schedule: Schedule::constant(lr), clip: None }
    }

    #[test]
    fn sgd_on_the_quadratic_follows_the_closed_form() {
        // θ_k = (1 − ελᵢ)^k θ₀ per coordinate, with λ = (1, κ).
        let function = Function2d::named("quadratic", 10.0).unwrap();
        let config = OptimizerConfig::named("sgd", Convention::Book).unwrap();
        let path = run(&function, &config, &settings([1.0, 1.0], 20, 0.05)).unwrap();
        assert_eq!(path.points.len(), 21);
        let last = path.points[20];
        assert!((last.x - 0.95f64.powi(20)).abs() < 1e-14);
        assert!((last.y - 0.5f64.powi(20)).abs() < 1e-14);
    }

    #[test]
    fn momentum_beats_sgd_on_an_ill_conditioned_quadratic() {
        // The chapter's point: at the same ε near 2/κ, SGD crawls along the valley; momentum does not.
        let function = Function2d::named("quadratic", 100.0).unwrap();
        let lr = function.suggested_lr();
        let run_named = |name| {
            let config = OptimizerConfig::named(name, Convention::Book).unwrap();
            run(&function, &config, &settings(function.default_start(), 200, lr)).unwrap()
        };
        let (sgd, momentum) = (run_named("sgd"), run_named("momentum"));
        assert!(momentum.final_value() < 1e-3 * sgd.final_value());
        assert_eq!(sgd.steps_to(&function, 1e-6), None);
        assert!(momentum.steps_to(&function, 1e-6).is_some());
    }

    #[test]
    fn divergence_stops_the_path_at_the_first_non_finite_point() {
        // SGD at ε = 0.03 on ½(x² + 100y²) from (0, 1): y ← y − 0.03·100y, and 0.03·100 rounds to
        // 3 exactly, so y_k = (−2)ᵏ exactly (doubling is exact) and f_k = 50·4ᵏ. f leaves the f64
        // range first: 50·4ᵏ > f64::MAX ≈ 2¹⁰²⁴ once 2k > 1024 − log₂ 50 = 1018.36, at k = 510
        // (y itself would overflow only at k = 1024).
        let function = Function2d::named("quadratic", 100.0).unwrap();
        let config = OptimizerConfig::named("sgd", Convention::Book).unwrap();
        let path = run(&function, &config, &settings([0.0, 1.0], 5000, 0.03)).unwrap();
        assert_eq!(path.diverged_at, Some(510));
        assert_eq!(path.points.len(), 511);
        for (k, point) in path.points.iter().enumerate() {
            let y = (-2.0f64).powi(k as i32);
            assert_eq!((point.step, point.x, point.y), (k as u64, 0.0, y), "step {k}");
            if k < 510 {
                assert!(point.f == 50.0 * 4f64.powi(k as i32), "step {k}: {}", point.f);
            }
        }
        assert_eq!(path.points[510].f, f64::INFINITY);
    }
}
