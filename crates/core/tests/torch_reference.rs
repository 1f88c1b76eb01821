//! The `torch` convention against trajectories recorded from PyTorch 2.15 itself
//! (`tools/torch_reference.py`: torch.optim, float64, autograd gradients, 200 steps).

use std::collections::BTreeMap;

use descent::functions::Function2d;
use descent::trajectory::{run, RunSettings};
use descent_optim::{Algorithm, Convention, OptimizerConfig, Schedule};

const REFERENCE: &str = include_str!("data/torch_trajectories.csv");

/// (variant, function) → (learning rate, the path PyTorch took).
type Runs = BTreeMap<(String, String), (f64, Vec<[f64; 2]>)>;

/// `name+key=value+flag…` → the optimizer PyTorch ran.
fn config(variant: &str) -> OptimizerConfig {
    let mut parts = variant.split('+');
    let mut config = OptimizerConfig::named(parts.next().unwrap(), Convention::Torch).unwrap();
    for option in parts {
        let (key, value) = option.split_once('=').unwrap_or((option, "1"));
        let value: f64 = value.parse().unwrap();
        match (&mut config.algorithm, key) {
            (_, "weight_decay") => config.weight_decay = value,
            (Algorithm::Sgd(c), "dampening") => c.dampening = value,
            (Algorithm::Rmsprop(c), "momentum") => c.momentum = value,
            (Algorithm::Rmsprop(c), "centered") => c.centered = true,
            (Algorithm::Adagrad(c), "lr_decay") => c.lr_decay = value,
            (Algorithm::Adagrad(c), "initial_accumulator") => c.initial_accumulator = value,
            _ => panic!("unknown option {option} for {variant}"),
        }
    }
    config
}

#[test]
fn torch_convention_reproduces_pytorch_to_1e9() {
    let mut runs = Runs::new();
    for line in REFERENCE.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let key = (fields[0].to_string(), fields[1].to_string());
        let lr: f64 = fields[2].parse().unwrap();
        let point = [fields[4].parse().unwrap(), fields[5].parse().unwrap()];
        runs.entry(key).or_insert_with(|| (lr, Vec::new())).1.push(point);
    }
    assert_eq!(runs.len(), 28, "14 variants × 2 functions");
    let mut worst: f64 = 0.0;
    for ((variant, function_name), (lr, expected)) in &runs {
        let function = Function2d::named(function_name, 100.0).unwrap();
        let settings = RunSettings {
            start: expected[0],
            steps: expected.len() as u64 - 1,
            schedule: Schedule::constant(*lr),
            clip: None,
        };
        let path = run(&function, &config(variant), &settings).unwrap();
        assert_eq!(path.points.len(), expected.len(), "{variant} on {function_name}");
        for (point, [x, y]) in path.points.iter().zip(expected) {
            let error = ((point.x - x).abs() / x.abs().max(1.0)).max((point.y - y).abs() / y.abs().max(1.0));
            worst = worst.max(error);
            // Measured: at most 1.1e-16 (PyTorch's own rounding reproduced). The bound leaves a
            // factor of 100 for another machine's libm `pow`; a changed formula (AdaGrad's δ moved
            // inside the root deviates by 1.7e-11) fails it.
            assert!(
                error <= 1e-14,
                "{variant} on {function_name}, step {}: ({}, {}) vs PyTorch ({x}, {y})",
                point.step,
                point.x,
                point.y
            );
        }
    }
    eprintln!("largest relative deviation from PyTorch: {worst:.2e}");
}
