//! The ill-conditioning monitor inside real training runs on the bundled MNIST subset.

use descent::config::TrainConfig;
use descent::data::mnist;
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

#[test]
fn the_second_order_model_predicts_a_full_batch_step() {
    let mut trainer = full_batch(0.5, 6);
    trainer.run(None, &mut |_| {}).unwrap();
    let rows = trainer.curvature_rows();
    assert_eq!(rows.len(), 6);
    for row in rows {
        assert!((row.first_order - row.lr * row.grad_norm.powi(2)).abs() <= 1e-12 * row.first_order);
        assert!((row.second_order - 0.5 * row.lr * row.lr * row.g_hg).abs() <= 1e-12 * row.second_order.abs());
        // Convex: 0 ≤ gᵀHg ≤ λ_max gᵀg.
        assert!(row.g_hg > 0.0 && row.g_hg <= row.lambda_max * row.grad_norm.powi(2) * 1.01, "{row:?}");
        assert!((row.stable_lr - 2.0 / row.lambda_max).abs() < 1e-12);
        // The real step is −εg: its loss change is −εgᵀg + ½ε²gᵀHg up to third order.
        let predicted = -row.first_order + row.second_order;
        assert!((row.actual_change - predicted).abs() < 0.1 * row.first_order, "{row:?}");
        assert!(row.actual_change < 0.0);
        // The update taken is the plain step, so its terms are the plain step's: gᵀΔθ = −εgᵀg and
        // ΔθᵀHΔθ = ε²gᵀHg (f32 parameters: to 1e-3).
        assert!((row.update_slope + row.first_order).abs() < 1e-3 * row.first_order, "{row:?}");
        assert!((row.update_curvature - 2.0 * row.second_order).abs() < 1e-2 * row.second_order, "{row:?}");
        assert!((row.update_norm - row.lr * row.grad_norm).abs() < 1e-3 * row.update_norm, "{row:?}");
        assert_eq!(row.batch, 400);
    }
    // After one update the distance from θ₀ is that update's size.
    assert_eq!(rows[0].distance, 0.0);
    assert!((rows[1].distance - rows[0].update_norm).abs() < 1e-4 * rows[0].update_norm, "{:?}", &rows[..2]);
    let layers = trainer.layer_rows();
    assert_eq!(layers.len(), 6);
    assert!(layers.iter().all(|l| l.layer == 1 && l.grad_norm > 0.0 && l.update_ratio > 0.0));
    // Δθ = −εg exactly, so the update ratio is ε‖g‖/‖θ‖ with the minibatch (= diagnostic) gradient.
    for (layer, row) in layers.iter().zip(rows) {
        let expected = row.lr * layer.grad_norm / layer.param_norm;
        assert!((layer.update_ratio - expected).abs() < 1e-3 * expected, "{layer:?}");
    }
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
