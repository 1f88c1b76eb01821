//! The ill-conditioning monitor inside real training runs on the bundled MNIST subset.

use descent::config::TrainConfig;
use descent::data::{mnist, Dataset};
use descent::diagnostics::DiagnosticsConfig;
use descent::train::{Splits, Trainer};

/// Full-batch gradient descent on logistic regression: 400 training images, one batch of all of
/// them, and the same 400 as the diagnostic batch, so the real step is exactly −εg.
fn full_batch(lr: f64, epochs: u32) -> Trainer {
    let mut config = TrainConfig::for_problem("mnist-logreg").unwrap();
    config.optimizer = "sgd".into();
    // Glorot's range (wider than the default U(±1/√m)) starts the softmax far enough from uniform
    // that the quadratic model holds over the steep step of the second test.
    config.init = descent::optim::Init::GlorotUniform;
    config.lr = lr;
    config.batch = 400;
    config.val_size = 100;
    config.epochs = epochs;
    config.threads = 1;
    let data = mnist::load(None).unwrap();
    let train = data.train.subset(&(0..500).collect::<Vec<_>>());
    let splits = Splits::from_sets(&config, train, data.test.subset(&[0, 1, 2])).unwrap();
    config.diagnostics =
        Some(DiagnosticsConfig { every: 1, examples: 400, layer_stats: true, ..DiagnosticsConfig::default() });
    Trainer::new(config, splits).unwrap()
}

/// The 400 training images `full_batch` trains on (the split is seeded, so this is the same set).
fn training_set(trainer: &Trainer) -> Dataset {
    let data = mnist::load(None).unwrap();
    let train = data.train.subset(&(0..500).collect::<Vec<_>>());
    Splits::from_sets(trainer.config(), train, data.test.subset(&[0, 1, 2])).unwrap().train
}

/// Softmax regression in f64, written from its definition and independent of the library's
/// layers, losses and finite differences: θ = (W: classes × inputs row-major, b: classes), the
/// loss the mean over examples of −log softmax(Wx + b)_y, its Hessian exact.
struct Reference<'a> {
    data: &'a Dataset,
}

impl Reference<'_> {
    /// Wx + b of example `i` for θ = (W, b): the logits, and Jᵢv for a direction v.
    fn logits(&self, theta: &[f64], i: usize) -> Vec<f64> {
        let (dim, classes) = (self.data.dim, self.data.classes);
        let x = &self.data.inputs[i * dim..(i + 1) * dim];
        (0..classes)
            .map(|k| {
                let row = &theta[k * dim..(k + 1) * dim];
                row.iter().zip(x).map(|(w, &x)| w * x as f64).sum::<f64>() + theta[classes * dim + k]
            })
            .collect()
    }

    /// softmax(Wx + b) of example `i`.
    fn probabilities(&self, theta: &[f64], i: usize) -> Vec<f64> {
        let logits = self.logits(theta, i);
        let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<f64> = logits.iter().map(|z| (z - top).exp()).collect();
        let total: f64 = exps.iter().sum();
        exps.iter().map(|e| e / total).collect()
    }

    fn loss(&self, theta: &[f64]) -> f64 {
        let n = self.data.len();
        (0..n).map(|i| -self.probabilities(theta, i)[self.data.labels[i] as usize].ln()).sum::<f64>() / n as f64
    }

    /// Every example's probabilities at θ.
    fn all_probabilities(&self, theta: &[f64]) -> Vec<Vec<f64>> {
        (0..self.data.len()).map(|i| self.probabilities(theta, i)).collect()
    }

    /// Σᵢ Jᵢᵀ uᵢ / n, where Jᵢ maps θ to example i's logits and `u(i, p)` gives uᵢ from its
    /// probabilities p (at θ): the gradient with uᵢ = p − e_y, the Hessian times v with
    /// uᵢ = (diag p − ppᵀ) Jᵢ v.
    fn pull_back(&self, probabilities: &[Vec<f64>], mut u: impl FnMut(usize, &[f64]) -> Vec<f64>) -> Vec<f64> {
        let (dim, classes, n) = (self.data.dim, self.data.classes, self.data.len());
        let mut out = vec![0.0; (dim + 1) * classes];
        for (i, (x, p)) in self.data.inputs.chunks_exact(dim).zip(probabilities).enumerate() {
            let ui = u(i, p);
            for k in 0..classes {
                let scale = ui[k] / n as f64;
                out[k * dim..(k + 1) * dim].iter_mut().zip(x).for_each(|(o, &x)| *o += scale * x as f64);
                out[classes * dim + k] += scale;
            }
        }
        out
    }

    fn gradient(&self, probabilities: &[Vec<f64>]) -> Vec<f64> {
        self.pull_back(probabilities, |i, p| {
            let mut u = p.to_vec();
            u[self.data.labels[i] as usize] -= 1.0;
            u
        })
    }

    fn hessian_times(&self, probabilities: &[Vec<f64>], v: &[f64]) -> Vec<f64> {
        self.pull_back(probabilities, |i, p| {
            let dz = self.logits(v, i);
            let mean: f64 = p.iter().zip(&dz).map(|(p, d)| p * d).sum();
            p.iter().zip(&dz).map(|(p, d)| p * (d - mean)).collect()
        })
    }

    /// The largest eigenvalue of the Hessian by Lanczos with full reorthogonalization (`steps`
    /// products with H), then bisection on the tridiagonal matrix's Sturm sequence: a method
    /// unlike the library's power iteration, converged here to far below the bounds asserted.
    fn lambda_max(&self, probabilities: &[Vec<f64>], steps: usize) -> f64 {
        let mut basis: Vec<Vec<f64>> = Vec::with_capacity(steps);
        let (mut alpha, mut beta) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
        let size = (self.data.dim + 1) * self.data.classes;
        let mut q: Vec<f64> = (0..size).map(|i| 1.0 + (i as f64 * 0.37).sin()).collect();
        let length = dot(&q, &q).sqrt();
        q.iter_mut().for_each(|x| *x /= length);
        for _ in 0..steps {
            let mut w = self.hessian_times(probabilities, &q);
            alpha.push(dot(&q, &w));
            basis.push(q);
            for _ in 0..2 {
                for b in &basis {
                    let along = dot(&w, b);
                    w.iter_mut().zip(b).for_each(|(w, b)| *w -= along * b);
                }
            }
            let norm = dot(&w, &w).sqrt();
            beta.push(norm);
            q = w.iter().map(|w| w / norm).collect();
        }
        // Eigenvalues of T below x: the negative pivots of T − xI = LDLᵀ.
        let below = |x: f64| {
            let mut pivot = 1.0;
            let mut count = 0;
            for i in 0..alpha.len() {
                let coupling = if i == 0 { 0.0 } else { beta[i - 1] * beta[i - 1] / pivot };
                pivot = alpha[i] - x - coupling;
                if pivot == 0.0 {
                    pivot = -f64::MIN_POSITIVE;
                }
                count += usize::from(pivot < 0.0);
            }
            count
        };
        let (mut low, mut high) = (0.0, alpha.iter().zip(&beta).map(|(a, b)| a + 2.0 * b).fold(0.0, f64::max));
        for _ in 0..200 {
            let middle = 0.5 * (low + high);
            if below(middle) == alpha.len() {
                high = middle;
            } else {
                low = middle;
            }
        }
        high
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

#[test]
fn the_second_order_model_predicts_a_full_batch_step() {
    let lr = 0.5;
    let mut trainer = full_batch(lr, 6);
    let data = training_set(&trainer);
    let reference = Reference { data: &data };
    let mut theta: Vec<f64> = trainer.model().params().iter().map(|&p| p as f64).collect();
    trainer.run(None, &mut |_| {}).unwrap();
    let (rows, layers) = (trainer.curvature_rows(), trainer.layer_rows());
    assert_eq!((rows.len(), layers.len()), (6, 6));
    let within = |found: f64, expected: f64, bound: f64| (found - expected).abs() <= bound * expected.abs();
    for (row, layer) in rows.iter().zip(layers) {
        // The same full-batch steps in f64, θ ← θ − εg, everything at θ from the definitions.
        let probabilities = reference.all_probabilities(&theta);
        let g = reference.gradient(&probabilities);
        let g_g = dot(&g, &g);
        let g_hg = dot(&g, &reference.hessian_times(&probabilities, &g));
        // 20 Lanczos steps give the same λ_max as 40 and 60 here, to the last bit.
        let lambda_max = reference.lambda_max(&probabilities, 20);
        let loss = reference.loss(&theta);
        let next: Vec<f64> = theta.iter().zip(&g).map(|(t, g)| t - lr * g).collect();
        let change = reference.loss(&next) - loss;
        // The model runs in f32 (parameters, products, gradients): measured ≤ 5e-8 relative.
        assert!(within(row.loss, loss, 1e-6), "{row:?}: loss {loss}");
        assert!(within(row.grad_norm, g_g.sqrt(), 1e-6), "{row:?}: ‖g‖ {}", g_g.sqrt());
        assert!(within(row.first_order, lr * g_g, 1e-6), "{row:?}: εgᵀg {}", lr * g_g);
        // gᵀHg from central differences of f32 gradients: measured ≤ 2.3e-4 relative.
        assert!(within(row.g_hg, g_hg, 1e-3), "{row:?}: gᵀHg {g_hg}");
        assert!(within(row.second_order, 0.5 * lr * lr * g_hg, 1e-3), "{row:?}: ½ε²gᵀHg");
        // The loss change in f32 evaluations: measured ≤ 1.1e-7 relative.
        assert!(within(row.actual_change, change, 1e-5), "{row:?}: change {change}");
        // λ_max: power iteration stopping at a residual ‖Hv − ρv‖ ≤ 1e-2·|ρ| (or 50 products) lands a
        // little below the converged value (a Rayleigh quotient never exceeds it, up to gᵀHg's error).
        assert!(row.lambda_max <= lambda_max * (1.0 + 1e-3), "{row:?}: λ_max {lambda_max}");
        assert!(row.lambda_max >= lambda_max * 0.95, "{row:?}: λ_max {lambda_max}");
        assert!(within(row.stable_lr * row.lambda_max, 2.0, 1e-12), "{row:?}");
        // The real step is −εg: its loss change is −εgᵀg + ½ε²gᵀHg up to third order.
        let predicted = -row.first_order + row.second_order;
        assert!((row.actual_change - predicted).abs() < 0.1 * row.first_order, "{row:?}");
        assert!(row.actual_change < 0.0);
        // The update taken is the plain step, so its terms are the plain step's: gᵀΔθ = −εgᵀg and
        // ΔθᵀHΔθ = ε²gᵀHg (f32 parameters: to 1e-3 and 1e-2).
        assert!((row.update_slope + row.first_order).abs() < 1e-3 * row.first_order, "{row:?}");
        assert!((row.update_curvature - 2.0 * row.second_order).abs() < 1e-2 * row.second_order, "{row:?}");
        assert!((row.update_norm - row.lr * row.grad_norm).abs() < 1e-3 * row.update_norm, "{row:?}");
        // One layer holds all of θ, and Δθ = −εg: the update ratio is ε‖g‖/‖θ‖ (measured from the
        // f32 parameters before and after, whose rounding is ~1e-4 of the step).
        let theta_norm = dot(&theta, &theta).sqrt();
        assert_eq!(layer.layer, 1);
        assert!(within(layer.grad_norm, g_g.sqrt(), 1e-6), "{layer:?}");
        assert!(within(layer.param_norm, theta_norm, 1e-6), "{layer:?}: ‖θ‖ {theta_norm}");
        assert!(within(layer.update_ratio, lr * g_g.sqrt() / theta_norm, 1e-3), "{layer:?}");
        assert_eq!(row.batch, 400);
        theta = next;
    }
    // After one update the distance from θ₀ is that update's size.
    assert_eq!(rows[0].distance, 0.0);
    assert!((rows[1].distance - rows[0].update_norm).abs() < 1e-4 * rows[0].update_norm, "{:?}", &rows[..2]);
}

#[test]
fn a_rate_past_two_over_lambda_max_raises_the_loss_when_curvature_says_so() {
    // Where ½ε²gᵀHg > εgᵀg (ratio > 1) the step −εg must increase the loss (to second order).
    let mut trainer = full_batch(0.5, 2);
    trainer.run(None, &mut |_| {}).unwrap();
    let row = &trainer.curvature_rows()[0];
    let steep = 4.0 * row.grad_norm.powi(2) / row.g_hg; // ratio = 2 at this rate
    let mut trainer = full_batch(steep, 1);
    trainer.run(None, &mut |_| {}).unwrap();
    let row = &trainer.curvature_rows()[0];
    assert!(row.ratio > 1.0, "{row:?}");
    assert!(row.actual_change > 0.0, "{row:?}");
}

#[test]
fn diagnosed_runs_resume_with_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut straight = full_batch(0.5, 2);
    straight.run(Some(&dir.path().join("straight")), &mut |_| {}).unwrap();
    let mut first = full_batch(0.5, 1);
    first.run(Some(&dir.path().join("split")), &mut |_| {}).unwrap();
    let mut config = first.config().clone();
    config.epochs = 2;
    let data = mnist::load(None).unwrap();
    let train = data.train.subset(&(0..500).collect::<Vec<_>>());
    let splits = Splits::from_sets(&config, train, data.test.subset(&[0, 1, 2])).unwrap();
    // The diagnostics settings travel in the config, so the resumed run keeps diagnosing.
    let mut resumed = Trainer::resume_with(&dir.path().join("split"), config, splits).unwrap();
    resumed.run(Some(&dir.path().join("split")), &mut |_| {}).unwrap();
    for file in ["diagnostics.csv", "layer_stats.csv"] {
        let read = |run: &str| std::fs::read_to_string(dir.path().join(run).join(file)).unwrap();
        assert_eq!(read("straight"), read("split"), "{file}");
    }
}

#[test]
fn drop_last_leaves_out_the_short_batch_of_each_epoch() {
    // 500 examples − 100 for validation = 400 in batches of 128: three full batches and one of 16.
    let run = |drop_last: bool| {
        let mut trainer = full_batch(0.1, 2);
        let mut config = trainer.config().clone();
        config.batch = 128;
        config.drop_last = drop_last;
        config.diagnostics = Some(DiagnosticsConfig {
            every: 1,
            examples: 100,
            power_iterations: 0,
            trace_probes: 0,
            ..DiagnosticsConfig::default()
        });
        let data = mnist::load(None).unwrap();
        let train = data.train.subset(&(0..500).collect::<Vec<_>>());
        let splits = Splits::from_sets(&config, train, data.test.subset(&[0, 1, 2])).unwrap();
        trainer = Trainer::new(config, splits).unwrap();
        trainer.run(None, &mut |_| {}).unwrap();
        trainer.curvature_rows().iter().map(|r| r.batch).collect::<Vec<_>>()
    };
    assert_eq!(run(false), vec![128, 128, 128, 16, 128, 128, 128, 16]);
    assert_eq!(run(true), vec![128; 6]);
}
