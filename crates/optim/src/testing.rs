//! Helpers for the algorithms' unit tests.

use crate::algorithms::Algorithm;
use crate::Optimizer;

/// Runs `steps` updates of `algorithm` in f64 from `start` with gradient `grad` at constant `lr`;
/// returns θ after each step.
pub fn run_steps(
    algorithm: impl Into<Algorithm>,
    start: &[f64],
    mut grad: impl FnMut(&[f64]) -> Vec<f64>,
    lr: f64,
    steps: usize,
) -> Vec<Vec<f64>> {
    let mut optimizer = Optimizer::<f64>::new(algorithm.into()).unwrap();
    let mut params = start.to_vec();
    (0..steps)
        .map(|_| {
            let g = grad(&params);
            optimizer.step(&mut params, &g, lr).expect("valid step");
            params.clone()
        })
        .collect()
}

/// Distance in units in the last place between two f32 of the same sign (subnormals included):
/// how far apart they are in the ordered list of all f32.
pub fn ulps(a: f32, b: f32) -> u32 {
    (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
}
