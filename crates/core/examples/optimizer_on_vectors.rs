//! descent's optimizers on plain vectors of your own: least squares ‖Aθ − b‖²/2 in 8 unknowns,
//! with the optimizer's state saved to a JSON file halfway and loaded into a new optimizer, which
//! continues exactly as if never stopped. Run with
//! `cargo run --release -p descent-nn --example optimizer_on_vectors`.

use std::path::Path;

use descent::optim::{Convention, Optimizer, OptimizerConfig, OptimizerState};

const N: usize = 8;

/// ∇ ½‖Aθ − b‖² = Aᵀ(Aθ − b) for a fixed, mildly ill-conditioned A (rows i, columns j:
/// 1/(1 + i + j), a Hilbert-like matrix) and b = A·1, so the minimum is θ = (1, …, 1).
fn gradient(theta: &[f32], grad: &mut [f32]) {
    let a = |i: usize, j: usize| 1.0 / (1.0 + i as f32 + j as f32);
    let residual: Vec<f32> = (0..N)
        .map(|i| (0..N).map(|j| a(i, j) * theta[j]).sum::<f32>() - (0..N).map(|j| a(i, j)).sum::<f32>())
        .collect();
    for (j, g) in grad.iter_mut().enumerate() {
        *g = (0..N).map(|i| a(i, j) * residual[i]).sum();
    }
}

fn steps(optimizer: &mut Optimizer<f32>, theta: &mut [f32], count: usize, lr: f64) -> Result<(), descent::Error> {
    let mut grad = vec![0.0; N];
    for _ in 0..count {
        gradient(theta, &mut grad);
        optimizer.step(theta, &grad, lr)?;
    }
    Ok(())
}

/// 400 steps of optimizer `name` straight, and 200 + 200 with the state saved to `file` and
/// loaded into a new optimizer between them. Returns both final θ.
pub fn fit(name: &str, file: &Path) -> Result<(Vec<f32>, Vec<f32>), Box<dyn std::error::Error>> {
    let config = OptimizerConfig::named(name, Convention::Torch)?.with_lr(0.05);
    let mut straight = vec![0.0f32; N];
    steps(&mut Optimizer::from_config(&config)?, &mut straight, 400, config.lr)?;

    let mut resumed = vec![0.0f32; N];
    let mut first = Optimizer::from_config(&config)?;
    steps(&mut first, &mut resumed, 200, config.lr)?;
    std::fs::write(file, serde_json::to_string(&first.state())?)?;
    // … later, perhaps in another process: the same configuration, the state read back.
    let state: OptimizerState = serde_json::from_str(&std::fs::read_to_string(file)?)?;
    let mut second = Optimizer::from_config(&config)?;
    second.load(&state)?;
    steps(&mut second, &mut resumed, 200, config.lr)?;
    Ok((straight, resumed))
}

#[allow(dead_code)] // when included by the test suite, only `fit` is used
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let file = std::env::temp_dir().join("descent-optimizer-state.json");
    for name in ["sgd", "momentum", "adam"] {
        let (straight, resumed) = fit(name, &file)?;
        let distance = straight.iter().map(|t| (t - 1.0).powi(2)).sum::<f32>().sqrt();
        println!("{name:>8}: ‖θ − θ*‖ = {distance:.4} after 400 steps; resumed run identical: {}", straight == resumed);
    }
    Ok(())
}
