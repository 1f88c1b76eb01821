//! The 2-D test functions as lab problems: deterministic, so one run per learning rate; the
//! "epochs" of a run are its updates and the metric is the gap f − f* to the minimum.

use super::{Problem, Source, Task, BATCH, VAL_SIZE};

/// f − f* below which a path has reached the minimum (as in `descent optimize`).
const TARGET: f64 = 1e-6;

/// A function problem judged by f − f* against [`TARGET`].
const fn minimize(name: &'static str, description: &'static str, condition: f64, budget: u32) -> Problem {
    Problem {
        name,
        description,
        task: Task::Minimize { function: name, condition },
        data: Source::Nothing,
        budget,
        target: TARGET,
        target_full_data: TARGET,
        metric: "f − f*",
        batch: BATCH,
        val_size: VAL_SIZE,
    }
}

/// ½(x² + 100y²): ill-conditioning (§8.2.1).
pub const QUADRATIC: Problem = minimize("quadratic", "the quadratic ½(x² + 100y²), condition number 100", 100.0, 200);

/// Rosenbrock's curved valley.
pub const ROSENBROCK: Problem = minimize("rosenbrock", "Rosenbrock's banana valley (1 − x)² + 100(y − x²)²", 0.0, 1000);

/// Beale's plateaus and ridges.
pub const BEALE: Problem = minimize("beale", "Beale's function: flat plateaus and sharp ridges", 0.0, 1000);

/// x² − y²: escaping a saddle point. Unbounded below, so the metric is f itself and the target
/// is having escaped to f ≤ −1.
pub const SADDLE: Problem = Problem {
    target: -1.0,
    target_full_data: -1.0,
    metric: "f",
    ..minimize("saddle", "the saddle x² − y² (unbounded below: lower is better)", 0.0, 100)
};

/// Himmelblau's four minima.
pub const HIMMELBLAU: Problem = minimize("himmelblau", "Himmelblau's function: four minima of equal value", 0.0, 200);
