//! The trainer end to end on the bundled MNIST subset (small models, a few seconds each).

use std::sync::OnceLock;

use descent::config::TrainConfig;
use descent::data::mnist;
use descent::train::{Splits, Trainer};
use descent::Error;

fn mnist_subset() -> &'static mnist::Mnist {
    static DATA: OnceLock<mnist::Mnist> = OnceLock::new();
    DATA.get_or_init(|| mnist::load(None).unwrap())
}

/// A small MLP on 3,000 training and 1,000 validation images.
fn small(hidden: Vec<usize>, epochs: u32) -> (TrainConfig, Splits) {
    let mut config = TrainConfig::for_problem("mnist-mlp").unwrap();
    config.hidden = hidden;
    config.epochs = epochs;
    config.val_size = 1000;
    config.threads = 2;
    config.batch = 32;
    let data = mnist_subset();
    let train = data.train.subset(&(0..4000).collect::<Vec<_>>());
    let splits = Splits::from_sets(&config, train, data.test.clone()).unwrap();
    (config, splits)
}

fn no_events() -> impl FnMut(descent::train::Event<'_>) + Send {
    |_| {}
}

#[test]
fn learns_mnist_on_the_bundled_subset() {
    // 3,000 images, 5 epochs, Adam, batch 32. PyTorch on the same setting (tools/torch_mnist_small.py,
    // seeds 0-2): logistic regression at lr 0.01 reaches 12.7-14.3% test error, a 128-unit ReLU
    // layer at lr 1e-3 10.9-11.8%. descent must land in that neighbourhood, and the MLP must win.
    let (mut config, splits) = small(vec![], 5);
    config.lr = 0.01;
    let summary = Trainer::new(config, splits).unwrap().run(None, &mut no_events()).unwrap();
    let logreg = summary.final_metrics.unwrap().test_error;
    assert!(logreg < 0.16, "logistic regression test error {logreg}");
    let (config, splits) = small(vec![128], 5);
    let mlp = Trainer::new(config, splits).unwrap().run(None, &mut no_events()).unwrap().final_metrics.unwrap();
    eprintln!("test error: logistic regression {logreg}, mlp {}", mlp.test_error);
    assert!(mlp.test_error < logreg && mlp.test_error < 0.135, "mlp test error {}", mlp.test_error);
    assert!(mlp.train_loss.is_finite() && mlp.val_error > 0.0);
}

#[test]
fn resuming_gives_the_same_run_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let (straight_dir, split_dir) = (dir.path().join("straight"), dir.path().join("split"));
    let (config, splits) = small(vec![32], 2);
    let mut straight = Trainer::new(config.clone(), splits.clone()).unwrap();
    straight.run(Some(&straight_dir), &mut no_events()).unwrap();

    let mut first = Trainer::new(TrainConfig { epochs: 1, ..config }, splits).unwrap();
    first.run(Some(&split_dir), &mut no_events()).unwrap();
    // Resume reads config.toml, which points at the bundled data; rebuild with the same subset.
    let mut resumed = resume_with_subset(&split_dir, 2);
    resumed.run(Some(&split_dir), &mut no_events()).unwrap();

    let bits = |t: &Trainer| t.model().params().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&straight), bits(&resumed));
    let without_seconds = |dir: &std::path::Path| -> Vec<String> {
        let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        csv.lines()
            .map(|line| {
                line.split(',').enumerate().filter(|(i, _)| *i != 3).map(|(_, f)| f).collect::<Vec<_>>().join(",")
            })
            .collect()
    };
    assert_eq!(without_seconds(&straight_dir), without_seconds(&split_dir));
    assert_eq!(without_seconds(&split_dir).len(), 3);
}

#[test]
fn new_optimizers_learn_and_resume_bit_for_bit() {
    // adamax, radam, lion, adafactor, muon and schedule-free AdamW on the 32-unit MLP, 2 epochs
    // straight against 1 + 1 resumed: their states (Adafactor's factored moments, Muon's momentum
    // and AdamW buffers, schedule-free's z, v, x and its sum of rates) must come back from the
    // checkpoint exactly, or the parameters (and the metrics, taken at x) differ.
    for (name, lr) in [
        ("adamax", 2e-3),
        ("radam", 3e-3),
        ("lion", 3e-4),
        ("adafactor", 1e-2),
        ("muon", 0.02),
        ("schedule-free-adamw", 2.5e-3),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (straight_dir, split_dir) = (dir.path().join("straight"), dir.path().join("split"));
        let (mut config, splits) = small(vec![32], 2);
        (config.optimizer, config.lr, config.convention) = (name.into(), lr, descent::optim::Convention::Torch);
        if name == "muon" {
            config.weight_decay = 0.1;
        }
        let mut straight = Trainer::new(config.clone(), splits.clone()).unwrap();
        let summary = straight.run(Some(&straight_dir), &mut no_events()).unwrap();
        let error = summary.final_metrics.unwrap().test_error;
        assert!(error < 0.35, "{name}: test error {error} after 2 epochs (chance: 0.9)");
        let mut first = Trainer::new(TrainConfig { epochs: 1, ..config }, splits).unwrap();
        first.run(Some(&split_dir), &mut no_events()).unwrap();
        let mut resumed = resume_with_subset(&split_dir, 2);
        resumed.run(Some(&split_dir), &mut no_events()).unwrap();
        let bits = |t: &Trainer| t.model().params().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert!(bits(&straight) == bits(&resumed), "{name}: resumed parameters differ");
        let losses = |t: &Trainer| -> Vec<[f64; 4]> {
            t.metrics().iter().map(|m| [m.train_loss, m.val_loss, m.test_loss, m.val_error]).collect()
        };
        assert_eq!(losses(&straight), losses(&resumed), "{name}: resumed metrics differ");
        eprintln!("{name}: test error {error}");
    }
}

#[test]
fn schedule_free_keeps_the_average_as_its_best_parameters() {
    // One epoch with early stopping on: the best epoch is the only one, and the parameters kept
    // are the evaluation point x (the checkpoint's optimizer.x), not y, where gradients were taken.
    let dir = tempfile::tempdir().unwrap();
    let (mut config, splits) = small(vec![32], 1);
    (config.optimizer, config.lr, config.early_stop) = ("schedule-free-adamw".into(), 2.5e-3, Some(3));
    let mut trainer = Trainer::new(config, splits).unwrap();
    trainer.run(Some(dir.path()), &mut no_events()).unwrap();
    let checkpoint = descent::checkpoint::Checkpoint::load(dir.path()).unwrap();
    let (x, y) = (checkpoint.tensor("optimizer.x").unwrap(), checkpoint.tensor("params").unwrap());
    assert_ne!(x, y);
    assert_eq!(trainer.model().params(), x);
    assert_eq!(checkpoint.tensor("best_params").unwrap(), x);
}

/// `Trainer::resume` for a run made on the test subset: same as the library call, but with the
/// training data cut down as in [`small`].
fn resume_with_subset(dir: &std::path::Path, epochs: u32) -> Trainer {
    let text = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    let mut config: TrainConfig = toml::from_str(&text).unwrap();
    config.epochs = epochs;
    let data = mnist_subset();
    let splits =
        Splits::from_sets(&config, data.train.subset(&(0..4000).collect::<Vec<_>>()), data.test.clone()).unwrap();
    Trainer::resume_with(dir, config, splits).unwrap()
}

#[test]
fn same_seed_and_threads_give_the_same_metrics() {
    let run = || {
        let (config, splits) = small(vec![16], 1);
        let mut trainer = Trainer::new(config, splits).unwrap();
        trainer.run(None, &mut no_events()).unwrap();
        trainer.metrics().iter().map(|m| (m.train_loss, m.val_loss, m.test_error)).collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn early_stopping_restores_the_best_epoch() {
    // Adam at a rate high enough that validation error wanders: the best epoch comes before the
    // last, and the run must end on the best epoch's parameters, bit for bit the parameters of a
    // run stopped there.
    let (mut config, splits) = small(vec![32], 12);
    config.lr = 0.02;
    config.early_stop = Some(3);
    let mut trainer = Trainer::new(config.clone(), splits.clone()).unwrap();
    let summary = trainer.run(None, &mut no_events()).unwrap();
    let metrics = trainer.metrics();
    let best = metrics.iter().min_by(|a, b| a.val_error.total_cmp(&b.val_error)).unwrap().epoch;
    assert!(best < summary.epochs, "the best epoch {best} must come before the last {}", summary.epochs);
    assert_eq!(summary.final_epoch, best);
    let bits = |t: &Trainer| t.model().params().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let mut straight = Trainer::new(TrainConfig { epochs: best, early_stop: None, ..config }, splits).unwrap();
    straight.run(None, &mut no_events()).unwrap();
    assert!(bits(&trainer) == bits(&straight), "the run did not end on epoch {best}'s parameters");
}

#[test]
fn a_diverging_run_stops_with_the_step_named_and_keeps_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (mut config, splits) = small(vec![16], 1);
    config.optimizer = "sgd".into();
    config.lr = 0.01;
    Trainer::new(config.clone(), splits.clone()).unwrap().run(Some(dir.path()), &mut no_events()).unwrap();
    let saved = std::fs::read(dir.path().join("checkpoint.safetensors")).unwrap();

    // Continue the same run at an absurd rate: it blows up during epoch 2.
    let diverging = TrainConfig { lr: 1e12, epochs: 2, ..config };
    let text = toml::to_string(&diverging).unwrap();
    std::fs::write(dir.path().join("config.toml"), text).unwrap();
    let error = resume_with_subset(dir.path(), 2).run(Some(dir.path()), &mut no_events()).unwrap_err();
    assert!(matches!(error, Error::NonFinite { epoch: 2, .. }), "{error}");
    assert!(error.to_string().contains("at step"), "{error}");
    assert_eq!(std::fs::read(dir.path().join("checkpoint.safetensors")).unwrap(), saved);
}

#[test]
fn resume_names_a_missing_or_foreign_folder() {
    let dir = tempfile::tempdir().unwrap();
    let missing = Trainer::resume(&dir.path().join("nope"), None).err().unwrap().to_string();
    assert!(missing.ends_with("nope: no such run folder"), "{missing}");
    let foreign = Trainer::resume(dir.path(), None).err().unwrap().to_string();
    assert!(foreign.contains("not a descent run"), "{foreign}");
}

/// Every network of the registry (convolutions and pooling, the autoencoder's sigmoid
/// cross-entropy against its inputs, the noisy quadratic's own layer) resumes bit for bit: two
/// epochs straight equal one epoch, a checkpoint, and a second epoch.
#[test]
fn every_network_problem_resumes_bit_for_bit() {
    for problem in ["mnist-2c2d", "fmnist-2c2d", "mnist-autoencoder", "quadratic-deep"] {
        let mut config = TrainConfig::for_problem(problem).unwrap();
        (config.epochs, config.batch, config.val_size, config.threads) = (2, 32, 100, 2);
        let cut = |config: &TrainConfig| {
            let (train, test) = Splits::sources(config).unwrap();
            let first = |n: usize| (0..n).collect::<Vec<_>>();
            Splits::from_sets(config, train.subset(&first(300)), test.subset(&first(200))).unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let (straight_dir, split_dir) = (dir.path().join("straight"), dir.path().join("split"));
        let mut straight = Trainer::new(config.clone(), cut(&config)).unwrap();
        straight.run(Some(&straight_dir), &mut no_events()).unwrap();
        let first = TrainConfig { epochs: 1, ..config.clone() };
        Trainer::new(first.clone(), cut(&first)).unwrap().run(Some(&split_dir), &mut no_events()).unwrap();
        let mut resumed = Trainer::resume_with(&split_dir, config.clone(), cut(&config)).unwrap();
        resumed.run(Some(&split_dir), &mut no_events()).unwrap();
        let bits = |t: &Trainer| t.model().params().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert!(bits(&straight) == bits(&resumed), "{problem}: resumed parameters differ");
        let (a, b) = (straight.metrics(), resumed.metrics());
        assert_eq!(a.len(), 2);
        assert!(a[1].val_error.is_finite() && a[1].val_error == b[1].val_error, "{problem}");
    }
}

/// Resume stays exact with everything that carries state across epochs: a warm-up then cosine
/// schedule (a function of the step), global-norm clipping, Nesterov momentum's buffer, early
/// stopping's best parameters and patience; and for the recurrent net.
#[test]
fn resume_is_exact_with_a_schedule_clipping_early_stopping_and_the_rnn() {
    for problem in ["mnist-mlp", "mnist-rnn"] {
        let mut config = TrainConfig::for_problem(problem).unwrap();
        (config.epochs, config.batch, config.val_size, config.threads) = (3, 32, 200, 2);
        config.hidden = vec![16];
        config.optimizer = "nesterov".into();
        config.lr = 0.05;
        config.schedule = "warmup:10+cosine".into();
        config.clip = Some(descent::optim::Clip::GlobalNorm(0.5));
        config.early_stop = Some(5);
        let cut = |config: &TrainConfig| {
            let data = mnist_subset();
            let first = |n: usize| (0..n).collect::<Vec<_>>();
            Splits::from_sets(config, data.train.subset(&first(800)), data.test.subset(&first(300))).unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let (straight_dir, split_dir) = (dir.path().join("straight"), dir.path().join("split"));
        let mut straight = Trainer::new(config.clone(), cut(&config)).unwrap();
        straight.run(Some(&straight_dir), &mut no_events()).unwrap();
        // Interrupted as Ctrl-C interrupts it: in the middle of epoch 2, after its third update,
        // so the schedule is the 3-epoch one and the checkpoint holds a partial epoch.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let mut epoch = 0;
        let interrupted =
            Trainer::new(config.clone(), cut(&config)).unwrap().stop_when(stop).run(Some(&split_dir), &mut |event| {
                match event {
                    descent::train::Event::EpochStart { epoch: e, .. } => epoch = e,
                    descent::train::Event::Batch { done: 3, .. } if epoch == 2 => {
                        flag.store(true, std::sync::atomic::Ordering::Relaxed)
                    }
                    _ => {}
                }
            });
        assert!(matches!(interrupted, Err(Error::Interrupted { epoch: 2, .. })), "{interrupted:?}");
        let saved = descent::checkpoint::Checkpoint::load(&split_dir).unwrap();
        assert_eq!(
            saved.progress.partial.map(|p| p.batches),
            Some(3),
            "{problem}: a checkpoint of update 3 of epoch 2"
        );
        let mut resumed = Trainer::resume_with(&split_dir, config.clone(), cut(&config)).unwrap();
        resumed.run(Some(&split_dir), &mut no_events()).unwrap();
        let bits = |t: &Trainer| t.model().params().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert!(bits(&straight) == bits(&resumed), "{problem}: resumed parameters differ");
        let without_seconds = |t: &Trainer| {
            t.metrics().iter().map(|m| descent::train::EpochMetrics { seconds: 0.0, ..m.clone() }).collect::<Vec<_>>()
        };
        assert_eq!(without_seconds(&straight), without_seconds(&resumed), "{problem}");
    }
}

#[test]
fn a_run_of_the_callers_layers_records_them_and_resumes_from_its_folder_alone() {
    // The layers are not the registry's (mnist-mlp is 784-1000-500-100-10): config.toml must say
    // what ran, so that `Trainer::resume(dir)` rebuilds this network and not the problem's.
    use descent::layers::{Activation, LayerSpec};
    use descent::optim::Init;
    let mut config = TrainConfig::for_problem("mnist-mlp").unwrap();
    (config.epochs, config.val_size, config.threads, config.batch) = (2, 1000, 1, 64);
    let layers = vec![
        LayerSpec::dense(16, Activation::Tanh, Init::GlorotUniform),
        LayerSpec::dense(10, Activation::Identity, Init::GlorotUniform),
    ];
    let dir = tempfile::tempdir().unwrap();
    let straight = tempfile::tempdir().unwrap();
    let bits = |t: &Trainer| t.model().params().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let splits = Splits::load(&config).unwrap();
    let mut once = Trainer::with_layers(config.clone(), splits.clone(), layers.clone()).unwrap();
    once.run(Some(straight.path()), &mut no_events()).unwrap();
    config.epochs = 1;
    Trainer::with_layers(config, splits, layers).unwrap().run(Some(dir.path()), &mut no_events()).unwrap();
    let mut resumed = Trainer::resume(dir.path(), Some(2)).unwrap();
    assert_eq!(resumed.model().params().len(), 784 * 16 + 16 + 16 * 10 + 10);
    resumed.run(Some(dir.path()), &mut no_events()).unwrap();
    assert_eq!(bits(&resumed), bits(&once));
}

#[test]
fn a_checkpoint_written_before_any_epoch_loads_with_its_infinite_best() {
    // The trainer starts with best_val_error = ∞, which JSON cannot hold as a number.
    let (config, splits) = small(vec![], 1);
    let dir = tempfile::tempdir().unwrap();
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut trainer = Trainer::new(config, splits).unwrap().stop_when(flag);
    assert!(matches!(trainer.run(Some(dir.path()), &mut no_events()), Err(Error::Interrupted { step: 0, .. })));
    let checkpoint = descent::checkpoint::Checkpoint::load(dir.path()).unwrap();
    assert_eq!(checkpoint.progress.best_val_error, f64::INFINITY);
    Trainer::resume(dir.path(), None).unwrap();
}

#[test]
fn reduce_on_plateau_cuts_the_rate_when_validation_loss_stalls_and_resumes_exactly() {
    // At ε = 1e-9 the validation loss cannot improve by the relative 1e-4 that counts, so with
    // patience 0 and factor 0.5: epoch 1 sets the best, every later epoch halves the rate for the
    // next. The rates of epochs 1-4 are ε, ε, ε/2, ε/4 (PyTorch's ReduceLROnPlateau, stepped on
    // the validation loss after each epoch, does the same).
    let (mut config, splits) = small(vec![], 4);
    (config.optimizer, config.lr) = ("sgd".into(), 1e-9);
    config.plateau = Some("0.5,0".parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut straight = Trainer::new(config.clone(), splits.clone()).unwrap();
    straight.run(None, &mut no_events()).unwrap();
    let lrs: Vec<f64> = straight.metrics().iter().map(|m| m.lr).collect();
    assert_eq!(lrs, [1e-9, 1e-9, 5e-10, 2.5e-10]);
    let mut half = config.clone();
    half.epochs = 2;
    Trainer::new(half, splits.clone()).unwrap().run(Some(dir.path()), &mut no_events()).unwrap();
    let mut resumed = Trainer::resume_with(dir.path(), config, splits).unwrap();
    resumed.run(None, &mut no_events()).unwrap();
    let lrs_resumed: Vec<f64> = resumed.metrics().iter().map(|m| m.lr).collect();
    assert_eq!(lrs_resumed, lrs, "the plateau's state is checkpointed");
    let bits = |t: &Trainer| t.model().params().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert!(bits(&resumed) == bits(&straight), "resumed parameters differ");
}

#[test]
fn clipping_telemetry_counts_the_norms_the_updates_saw() {
    use descent::train::{Control, Event};
    let (mut config, splits) = small(vec![], 2);
    config.lr = 0.05;
    config.clip = Some(descent::optim::Clip::GlobalNorm(0.5));
    // ‖g‖ of each update, computed here from the gradient the trainer reports.
    let mut norms: Vec<Vec<f64>> = Vec::new();
    let mut trainer = Trainer::new(config.clone(), splits.clone()).unwrap();
    trainer
        .run(None, &mut |event: Event<'_>| match event {
            Event::EpochStart { .. } => norms.push(Vec::new()),
            Event::Batch { grads, .. } => {
                let norm = grads.iter().map(|&g| (g as f64) * (g as f64)).sum::<f64>().sqrt();
                norms.last_mut().unwrap().push(norm);
            }
            _ => {}
        })
        .unwrap();
    for (metrics, mut epoch) in trainer.metrics().iter().zip(norms) {
        let clipped = epoch.iter().filter(|&&n| n + 1e-6 > 0.5).count() as f64 / epoch.len() as f64;
        epoch.sort_by(f64::total_cmp);
        let m = epoch.len() / 2;
        let median = if epoch.len() % 2 == 1 { epoch[m] } else { (epoch[m - 1] + epoch[m]) / 2.0 };
        let found = metrics.grad_norm_median.unwrap();
        assert!((found - median).abs() < 1e-9 * median, "epoch {}: {found} against {median}", metrics.epoch);
        assert_eq!(metrics.clipped_fraction, Some(clipped));
        assert!(clipped > 0.0, "the bound is meant to clip some updates");
    }
    let csv_header = descent::train::METRICS_HEADER;
    assert!(csv_header.ends_with(",grad_norm_median,clipped_fraction"));

    // Stopped in the middle of the first epoch and resumed: the same telemetry.
    let dir = tempfile::tempdir().unwrap();
    let mut first = Trainer::new(config.clone(), splits.clone()).unwrap();
    first
        .run_with(Some(dir.path()), &mut |event| match event {
            Event::Batch { done: 20, .. } => Control::Stop,
            _ => Control::Continue,
        })
        .unwrap();
    let mut resumed = Trainer::resume_with(dir.path(), config, splits).unwrap();
    resumed.run(Some(dir.path()), &mut no_events()).unwrap();
    let telemetry =
        |t: &Trainer| -> Vec<_> { t.metrics().iter().map(|m| (m.grad_norm_median, m.clipped_fraction)).collect() };
    assert_eq!(telemetry(&resumed), telemetry(&trainer));
}

#[test]
fn shards_add_up_to_the_batch_gradient() {
    // `shards = N` computes each batch's gradient as N shard means weighted by their share and
    // added in order: the batch mean's gradient up to rounding. Logistic regression (convex, so
    // rounding does not grow) over one epoch of batches of 32 whose last batch of 24 leaves 8 of
    // 32 one-example shards empty. Relative to the plain run: measured 1.4e-7 for both; 1e-6 is f32
    // rounding over 94 updates, while a shard counted twice or a weight off by one row is 1.4e-3.
    let (mut config, splits) = small(vec![], 1);
    config.lr = 0.01;
    let params = |shards: Option<usize>| {
        let config = TrainConfig { shards, ..config.clone() };
        let mut trainer = Trainer::new(config, splits.clone()).unwrap();
        trainer.run(None, &mut no_events()).unwrap();
        trainer.model().params().to_vec()
    };
    let plain = params(None);
    for shards in [4, 32] {
        let sharded = params(Some(shards));
        let diff: f64 = sharded.iter().zip(&plain).map(|(a, b)| f64::from(a - b).powi(2)).sum();
        let norm: f64 = plain.iter().map(|b| f64::from(*b).powi(2)).sum();
        let relative = (diff / norm).sqrt();
        assert!(relative < 1e-6 && relative > 0.0, "{shards} shards: {relative:e} from one piece");
    }
    // Shards must divide the batch.
    let config = TrainConfig { shards: Some(5), ..config };
    let error = Trainer::new(config, splits).err().expect("5 shards of 32 refused").to_string();
    assert!(error.contains("shards must divide the batch") && error.contains("5 shards of a batch of 32"), "{error}");
}

#[test]
fn the_average_of_the_iterates_is_polyaks_mean_or_the_ema_closed_form() {
    // Five updates of the 32-unit MLP, the iterates θ₁…θ₅ copied after each in f64: the trainer's
    // average must be their mean (Polyak), or d⁴θ₁ + (1 − d)Σ₂≤ᵢ≤₅ d^(5−i)θᵢ (EMA), summed here
    // directly; f32 rounding of the running form allows ~1e-6 relative.
    use descent::optim::Averaging;
    let decay = 0.8;
    for averaging in [Averaging::Polyak, Averaging::Ema { decay }] {
        let (mut config, splits) = small(vec![32], 1);
        config.average = Some(averaging);
        let mut trainer = Trainer::new(config, splits).unwrap();
        let mut iterates: Vec<Vec<f64>> = Vec::new();
        for index in 0..5 {
            trainer.train_on_batch(index).unwrap();
            iterates.push(trainer.model().params().iter().map(|&v| f64::from(v)).collect());
        }
        let average = trainer.average().unwrap();
        let t = iterates.len();
        let mut worst: f64 = 0.0;
        for (k, &got) in average.iter().enumerate() {
            let want = match averaging {
                Averaging::Polyak => iterates.iter().map(|theta| theta[k]).sum::<f64>() / t as f64,
                Averaging::Ema { .. } => {
                    decay.powi(t as i32 - 1) * iterates[0][k]
                        + (2..=t).map(|i| (1.0 - decay) * decay.powi((t - i) as i32) * iterates[i - 1][k]).sum::<f64>()
                }
            };
            worst = worst.max((f64::from(got) - want).abs() / want.abs().max(1e-2));
        }
        assert!(worst < 1e-5, "{averaging}: deviates by {worst:.2e} from the iterates' average");
        // And it is not merely the last iterate.
        assert!(average.iter().zip(&iterates[t - 1]).any(|(a, last)| (f64::from(*a) - last).abs() > 1e-4));
    }
}

#[test]
fn an_averaging_run_reports_ends_with_and_resumes_its_average_bit_for_bit() {
    // 2 epochs straight against 1 + 1 resumed, for both averages: the average comes back from the
    // checkpoint exactly (its metrics and the final model agree to the bit), metrics.csv has its
    // columns, and the run ends with the average, whose figures are the ones reported for it.
    for average in ["polyak", "ema:0.99"] {
        let dir = tempfile::tempdir().unwrap();
        let (straight_dir, split_dir) = (dir.path().join("straight"), dir.path().join("split"));
        let (mut config, splits) = small(vec![32], 2);
        config.average = Some(average.parse().unwrap());
        let mut straight = Trainer::new(config.clone(), splits.clone()).unwrap();
        straight.run(Some(&straight_dir), &mut no_events()).unwrap();
        let mut first = Trainer::new(TrainConfig { epochs: 1, ..config }, splits.clone()).unwrap();
        first.run(Some(&split_dir), &mut no_events()).unwrap();
        let mut resumed = resume_with_subset(&split_dir, 2);
        resumed.run(Some(&split_dir), &mut no_events()).unwrap();

        let bits = |t: &Trainer| t.model().params().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert!(bits(&straight) == bits(&resumed), "{average}: resumed model differs");
        assert_eq!(straight.metrics().len(), 2);
        for (a, b) in straight.metrics().iter().zip(resumed.metrics()) {
            assert_eq!((a.averaged, a.val_loss, a.test_error), (b.averaged, b.val_loss, b.test_error), "{average}");
        }
        let checkpoint = descent::checkpoint::Checkpoint::load(&straight_dir).unwrap();
        let (kept, raw) = (checkpoint.tensor("average").unwrap(), checkpoint.tensor("params").unwrap());
        assert_eq!(straight.model().params(), kept, "{average}: the run ends with its average");
        assert_ne!(kept, raw, "{average}: the checkpoint keeps the parameters to continue from, too");
        let last = straight.metrics()[1].averaged.unwrap();
        assert_ne!((last.val_loss, last.test_loss), (straight.metrics()[1].val_loss, straight.metrics()[1].test_loss));
        assert_eq!(straight.evaluate(&splits.val).unwrap(), (last.val_loss, last.val_error), "{average}");
        let csv = std::fs::read_to_string(straight_dir.join("metrics.csv")).unwrap();
        assert!(csv.lines().next().unwrap().ends_with(",avg_val_loss,avg_val_error,avg_test_loss,avg_test_error"));
        assert!(csv.lines().skip(1).all(|row| row.split(',').count() == 16), "{csv}");
    }
}

#[test]
fn early_stopping_watches_and_keeps_the_average() {
    // Two epochs with early stopping, at a rate (0.05) and decay (0.5) where the average is best
    // after the first epoch and the parameters after the second (measured: averaged validation
    // errors 0.155, 0.159; raw 0.172, 0.158): the best epoch is the average's, and the parameters
    // the run ends with are that epoch's average, not the last one's.
    let (mut config, splits) = small(vec![32], 2);
    (config.average, config.early_stop, config.lr) = (Some("ema:0.5".parse().unwrap()), Some(5), 0.05);
    let mut trainer = Trainer::new(config, splits.clone()).unwrap();
    let summary = trainer.run(None, &mut no_events()).unwrap();
    let best = |errors: Vec<f64>| errors.iter().enumerate().fold(0, |b, (i, &v)| if v < errors[b] { i } else { b });
    let averaged = best(trainer.metrics().iter().map(|m| m.averaged.unwrap().val_error).collect());
    let raw = best(trainer.metrics().iter().map(|m| m.val_error).collect());
    assert!(averaged == 0 && raw == 1, "the setting no longer tells the two apart: {:?}", trainer.metrics());
    assert_eq!(summary.final_epoch, 1);
    let kept = trainer.metrics()[0].averaged.unwrap();
    assert_eq!(trainer.evaluate(&splits.val).unwrap(), (kept.val_loss, kept.val_error));
}
