//! The `torch` convention against trajectories recorded from PyTorch 2.15 itself
//! (`tools/torch_reference.py`: torch.optim, float64, autograd gradients): 200 steps on 2-D
//! functions, 200 steps with two parameter groups of their own hyperparameters, and 50 steps of
//! the rules that need matrix shapes on a least-squares problem.

use std::collections::BTreeMap;

use descent::functions::Function2d;
use descent::trajectory::{run, RunSettings};
use descent_optim::{Convention, Hyperparameter, Optimizer, OptimizerConfig, ParamGroup, Schedule};

const REFERENCE: &str = include_str!("data/torch_trajectories.csv");
const MATRIX_REFERENCE: &str = include_str!("data/torch_matrix_trajectories.csv");
const GROUP_REFERENCE: &str = include_str!("data/torch_group_trajectories.csv");

/// (variant, function) → (learning rate, the path PyTorch took).
type Runs = BTreeMap<(String, String), (f64, Vec<[f64; 2]>)>;

/// `name+key=value+flag…` → the optimizer PyTorch ran, its options set through the names the
/// command line and experiment files use (`OptimizerConfig::set`), so that the replay checks
/// that every option reaches the rule it names.
fn config(variant: &str) -> OptimizerConfig {
    use Hyperparameter::*;
    let mut parts = variant.split('+');
    let mut config = OptimizerConfig::named(parts.next().unwrap(), Convention::Torch).unwrap();
    for option in parts {
        let (key, value) = option.split_once('=').unwrap_or((option, "1"));
        let value: f64 = value.parse().unwrap();
        let parameter = match key {
            "weight_decay" => {
                config.weight_decay = value;
                continue;
            }
            "momentum" => Momentum,
            "dampening" => Dampening,
            "centered" => Centered,
            "lr_decay" => LrDecay,
            "initial_accumulator" => InitialAccumulator,
            "momentum_decay" => MomentumDecay,
            "decoupled" => DecoupledWeightDecay,
            _ => panic!("unknown option {option} for {variant}"),
        };
        assert!(config.set(parameter, value), "{variant}: {key} does not reach {}", config.name);
    }
    config.validate().unwrap();
    config
}

/// The runs of a file of 2-D trajectories (columns variant,function,lr,step,x,y).
fn read_runs(reference: &str) -> Runs {
    let mut runs = Runs::new();
    for line in reference.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let key = (fields[0].to_string(), fields[1].to_string());
        let lr: f64 = fields[2].parse().unwrap();
        let point = [fields[4].parse().unwrap(), fields[5].parse().unwrap()];
        runs.entry(key).or_insert_with(|| (lr, Vec::new())).1.push(point);
    }
    runs
}

/// The larger of the relative deviations of x and y.
fn deviation(got: [f64; 2], [x, y]: [f64; 2]) -> f64 {
    ((got[0] - x).abs() / x.abs().max(1.0)).max((got[1] - y).abs() / y.abs().max(1.0))
}

#[test]
fn torch_convention_reproduces_pytorch_to_1e9() {
    let runs = read_runs(REFERENCE);
    assert_eq!(runs.len(), 48, "24 variants × 2 functions");
    // The largest deviation of the elementwise rules and of Adafactor, with the variant.
    let (mut worst, mut worst_adafactor): ((f64, &str), (f64, &str)) = ((0.0, ""), (0.0, ""));
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
        for (point, &[x, y]) in path.points.iter().zip(expected) {
            let error = deviation([point.x, point.y], [x, y]);
            let record = if variant.starts_with("adafactor") { &mut worst_adafactor } else { &mut worst };
            if error > record.0 {
                *record = (error, variant.as_str());
            }
            // Measured: at most 1.1e-16 for the elementwise rules (PyTorch's own rounding
            // reproduced) and 1.8e-15 with Adafactor, whose RMS norms sum in another order than
            // PyTorch's reductions. The bound leaves room for another machine's libm `pow`; a
            // changed formula (AdaGrad's δ moved inside the root deviates by 1.7e-11) fails it.
            assert!(
                error <= 1e-14,
                "{variant} on {function_name}, step {}: ({}, {}) vs PyTorch ({x}, {y})",
                point.step,
                point.x,
                point.y
            );
        }
    }
    eprintln!(
        "largest relative deviation from PyTorch: {:.2e} ({}) for the elementwise rules, {:.2e} ({}) with Adafactor",
        worst.0, worst.1, worst_adafactor.0, worst_adafactor.1
    );
}

/// A group of `GROUP_VARIANTS` in tools/torch_reference.py: `-` for none, else options
/// `key=value` joined by `+`, set through the names the command line uses.
fn group(range: std::ops::Range<usize>, text: &str) -> ParamGroup {
    let mut group = ParamGroup::new(range);
    for option in text.split('+').filter(|option| *option != "-") {
        let (key, value) = option.split_once('=').unwrap();
        let value: f64 = value.parse().unwrap();
        let overrides = &mut group.overrides;
        match key {
            "lr_scale" => group.lr_scale = value,
            "weight_decay" => group.weight_decay = Some(value),
            "momentum" => overrides.momentum = Some(value),
            "dampening" => overrides.dampening = Some(value),
            "beta1" => overrides.beta1 = Some(value),
            "beta2" => overrides.beta2 = Some(value),
            "eps" => overrides.eps = Some(value),
            "rho" => overrides.rho = Some(value),
            "lr_decay" => overrides.lr_decay = Some(value),
            _ => panic!("unknown group option {option}"),
        }
    }
    group
}

#[test]
fn parameter_groups_with_their_own_hyperparameters_reproduce_pytorch() {
    // x in group 0 and y in group 1, each group overriding some of the optimizer's values, as
    // PyTorch's param_groups do; the optimizer itself has the torch defaults.
    let runs = read_runs(GROUP_REFERENCE);
    assert_eq!(runs.len(), 20, "10 variants × 2 functions");
    let mut worst: f64 = 0.0;
    for ((variant, function_name), (lr, expected)) in &runs {
        let function = Function2d::named(function_name, 100.0).unwrap();
        let parts: Vec<&str> = variant.split('/').collect();
        let groups = vec![group(0..1, parts[1]), group(1..2, parts[2])];
        let mut config = OptimizerConfig::named(parts[0], Convention::Torch).unwrap();
        if parts[0] == "rmsprop" {
            config.set(Hyperparameter::Momentum, 0.2); // the script's RMSprop(momentum=0.2)
        }
        let mut optimizer = Optimizer::<f64>::from_config(&config).unwrap().with_groups(groups).unwrap();
        let mut theta = expected[0];
        for (step, want) in expected.iter().enumerate().skip(1) {
            let grad = function.gradient(theta[0], theta[1]);
            optimizer.step(&mut theta, &grad, *lr).unwrap();
            let error = deviation(theta, *want);
            worst = worst.max(error);
            // The same bound as the single-group replay: the groups' own values reach the
            // kernels exactly (a group left on the optimizer's β₂ deviates by far more).
            assert!(error <= 1e-14, "{variant} on {function_name}, step {step}: {theta:?} vs PyTorch {want:?}");
        }
    }
    eprintln!("largest relative deviation from PyTorch with parameter groups: {worst:.2e}");
}

/// The data of `matrix_problem` in tools/torch_reference.py: entries ((7i + 3j + seed) mod 11 − 5)/4.
fn table(rows: usize, cols: usize, seed: usize) -> Vec<f64> {
    (0..rows * cols).map(|k| ((k / cols * 7 + k % cols * 3 + seed) % 11) as f64 / 4.0 - 1.25).collect()
}

/// ∂L/∂W for L = ½‖XW − Y‖² with X (n × k), W (k × m): Xᵀ(XW − Y), in plain f64 loops.
fn least_squares_gradient(x: &[f64], w: &[f64], y: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
    let residual: Vec<f64> =
        (0..n * m).map(|im| (0..k).map(|l| x[im / m * k + l] * w[l * m + im % m]).sum::<f64>() - y[im]).collect();
    (0..k * m).map(|lm| (0..n).map(|i| x[i * k + lm / m] * residual[i * m + lm % m]).sum()).collect()
}

#[test]
fn adafactor_and_muon_reproduce_pytorch_on_matrices_to_1e12() {
    // W1 (5 × 3, tall) at 0..15, W2 (3 × 4, wide) at 15..27, b (4) at 27..31.
    let (x1, y1, x2, y2) = (table(6, 5, 0), table(6, 3, 1), table(2, 3, 2), table(2, 4, 3));
    let target = [0.5, -1.0, 1.5, 0.25];
    let gradient = |p: &[f64]| {
        let mut g = least_squares_gradient(&x1, &p[..15], &y1, 6, 5, 3);
        g.extend(least_squares_gradient(&x2, &p[15..27], &y2, 2, 3, 4));
        g.extend(p[27..].iter().zip(target).map(|(b, t)| (b - t).powi(3)));
        g
    };
    let mut runs: BTreeMap<String, (f64, Vec<Vec<f64>>)> = BTreeMap::new();
    for line in MATRIX_REFERENCE.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let (step, index): (usize, usize) = (fields[2].parse().unwrap(), fields[3].parse().unwrap());
        let run = runs.entry(fields[0].to_string()).or_insert_with(|| (fields[1].parse().unwrap(), Vec::new()));
        if index == 0 {
            assert_eq!(run.1.len(), step);
            run.1.push(Vec::new());
        }
        run.1[step].push(fields[4].parse().unwrap());
    }
    assert_eq!(runs.len(), 4);
    let mut worst: f64 = 0.0;
    for (variant, (lr, expected)) in &runs {
        let config = config(variant);
        let groups = vec![
            ParamGroup::new(0..15).with_shape(5, 3),
            ParamGroup::new(15..27).with_shape(3, 4),
            ParamGroup::new(27..31),
        ];
        let mut optimizer = Optimizer::<f64>::from_config(&config).unwrap().with_groups(groups).unwrap();
        let mut params = expected[0].clone();
        // The start is the script's table(5, 3, 4)/2, table(3, 4, 5)/2 and (1, 0, −0.5, 2).
        let start: Vec<f64> =
            table(5, 3, 4).iter().chain(&table(3, 4, 5)).map(|v| v / 2.0).chain([1.0, 0.0, -0.5, 2.0]).collect();
        assert_eq!(params, start);
        for (step, want) in expected.iter().enumerate().skip(1) {
            let g = gradient(&params);
            optimizer.step(&mut params, &g, *lr).unwrap();
            for (index, (got, want)) in params.iter().zip(want).enumerate() {
                let error = (got - want).abs() / want.abs().max(1.0);
                worst = worst.max(error);
                // Measured: 4.2e-15. The products and norms sum in another order than PyTorch's
                // BLAS and reductions, and Newton–Schulz's quintic amplifies rounding by up to
                // |a| = 3.4 per iteration; 1e-12 (tighter than the 1e-9 asked for) leaves a
                // factor of 200 for another BLAS, while a changed formula (the momentum as a sum
                // instead of an average, ε₁ added instead of floored) deviates by far more.
                assert!(error <= 1e-12, "{variant}, step {step}, element {index}: {got} vs PyTorch {want}");
            }
        }
    }
    eprintln!("largest relative deviation from PyTorch on matrices: {worst:.2e}");
}
