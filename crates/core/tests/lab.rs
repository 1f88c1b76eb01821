//! The lab end to end: a small comparison on the bundled MNIST subset, stopped and resumed, must
//! end with the same results as one that ran straight through; a 2-D problem tunes its rates.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use descent::lab::{self, ExperimentSpec, LabEvent, LrGrid, Results, Setting};

/// Logistic regression, two optimizers × two rates tuned on seed 1, reported on seeds 2 and 3,
/// two epochs: 8 runs of ~0.1 s.
fn small_experiment() -> lab::Experiment {
    ExperimentSpec {
        problem: Some("mnist-logreg".into()),
        optimizers: Some(vec!["sgd".into(), "adam".into()]),
        lrs: Some(LrGrid::List(vec![0.1, 0.001])),
        seeds: Some(2),
        epochs: Some(2),
        val_size: Some(2000),
        ..ExperimentSpec::default()
    }
    .resolve(None)
    .unwrap()
}

/// Results with the wall-clock seconds zeroed, for comparing two invocations.
fn without_seconds(mut results: Results) -> Results {
    for run in &mut results.runs {
        for metrics in &mut run.epochs {
            metrics.seconds = 0.0;
        }
    }
    results
}

#[test]
fn a_stopped_comparison_resumes_to_the_same_results() {
    let experiment = small_experiment();
    let straight_dir = tempfile::tempdir().unwrap();
    let never = Arc::new(AtomicBool::new(false));
    let straight = lab::run(&experiment, straight_dir.path(), 2, &never, &|_| {}).unwrap();
    assert_eq!(straight.runs.len(), 8);
    for variant in &experiment.variants {
        let seeds: Vec<u64> = straight.final_runs(variant).iter().map(|r| r.seed).collect();
        assert_eq!(seeds, [2, 3], "the reported seeds exclude the tuning seed 1");
    }
    assert!(straight_dir.path().join("results.json").is_file());
    assert!(straight_dir.path().join("summary.csv").is_file());

    // Stop in the middle of the second run's second epoch: the first run is finished on disk,
    // the second has its first epoch's checkpoint.
    let dir = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let epochs_seen = AtomicUsize::new(0);
    let stopped = lab::run(&experiment, dir.path(), 1, &stop, &|event| {
        if let LabEvent::Epoch { .. } = event {
            if epochs_seen.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
                stop.store(true, Ordering::SeqCst);
            }
        }
    });
    assert!(matches!(stopped, Err(descent::Error::Interrupted { .. })), "{stopped:?}");
    assert!(!dir.path().join("results.json").exists());
    let first = lab::run_folder(dir.path(), "sgd", &Setting::rate(0.001), 1);
    let second = lab::run_folder(dir.path(), "sgd", &Setting::rate(0.1), 1);
    // A finished run deletes its checkpoint (the experiment does not ask to keep them).
    assert!(first.join("result.json").is_file() && !first.join("checkpoint.safetensors").exists());
    assert!(!second.join("result.json").exists() && second.join("checkpoint.safetensors").is_file());

    let from_disk = AtomicUsize::new(0);
    let resumed = lab::run(&experiment, dir.path(), 2, &Arc::new(AtomicBool::new(false)), &|event| {
        if let LabEvent::Finished { from_disk: true, .. } = event {
            from_disk.fetch_add(1, Ordering::SeqCst);
        }
    })
    .unwrap();
    assert_eq!(from_disk.load(Ordering::SeqCst), 1);
    assert_eq!(without_seconds(resumed), without_seconds(straight));
}

#[test]
fn a_folder_that_is_not_a_report_is_left_alone() {
    let experiment = small_experiment();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let error = lab::prepare(&experiment, dir.path()).unwrap_err().to_string();
    assert!(error.contains("is not a descent report"), "{error}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let report = tempfile::tempdir().unwrap();
    lab::prepare(&experiment, report.path()).unwrap();
    lab::prepare(&experiment, report.path()).unwrap();
    let mut other = experiment.clone();
    other.seeds = 3;
    other.batch = 64;
    let error = lab::prepare(&other, report.path()).unwrap_err().to_string();
    assert!(error.contains("holds another experiment ('batch = 128' against 'batch = 64')"), "{error}");
    // More seeds are growth, not another experiment.
    other.batch = 128;
    lab::prepare(&other, report.path()).unwrap();

    // A folder of the older protocol (seed 1 tuned and reported) is refused with the reason.
    let old = tempfile::tempdir().unwrap();
    let text = toml::to_string(&experiment).unwrap().replace("protocol = 2\n", "");
    std::fs::write(old.path().join("experiment.toml"), text).unwrap();
    let error = lab::prepare(&experiment, old.path()).unwrap_err().to_string();
    assert!(error.contains("tuning protocol 1") && error.contains("exclude the tuning seeds"), "{error}");
}

#[test]
fn a_report_grown_by_seeds_and_rates_equals_the_larger_one_run_from_scratch() {
    let small = small_experiment();
    let never = Arc::new(AtomicBool::new(false));
    let dir = tempfile::tempdir().unwrap();
    let before = lab::run(&small, dir.path(), 2, &never, &|_| {}).unwrap();
    // One more rate, a second tuning seed and a third reported seed.
    let larger = ExperimentSpec {
        problem: Some("mnist-logreg".into()),
        optimizers: Some(vec!["sgd".into(), "adam".into()]),
        lrs: Some(LrGrid::List(vec![0.1, 0.001, 0.01])),
        seeds: Some(3),
        tuning_seeds: Some(2),
        epochs: Some(2),
        val_size: Some(2000),
        ..ExperimentSpec::default()
    }
    .resolve(None)
    .unwrap();
    assert_eq!(larger.tuning_seeds(), [1, 2]);
    assert_eq!(larger.reported_seeds(), [3, 4, 5]);
    let reused = AtomicUsize::new(0);
    let grown = lab::run(&larger, dir.path(), 2, &never, &|event| {
        if let LabEvent::Finished { from_disk: true, .. } = event {
            reused.fetch_add(1, Ordering::SeqCst);
        }
    })
    .unwrap();
    // Every run of the smaller report that the larger one plans is read back, none run again:
    // the 4 tuning runs, and seeds 2 and 3 wherever the larger experiment runs them.
    let planned = |r: &&descent::lab::RunResult| {
        grown.runs.iter().any(|g| g.setting == r.setting && g.seed == r.seed && g.variant == r.variant)
    };
    let shared = before.runs.iter().filter(planned).count();
    assert!(shared >= 4, "{shared}");
    assert_eq!(reused.load(Ordering::SeqCst), shared);
    let scratch_dir = tempfile::tempdir().unwrap();
    let scratch = lab::run(&larger, scratch_dir.path(), 2, &never, &|_| {}).unwrap();
    assert_eq!(without_seconds(grown), without_seconds(scratch));
}

#[test]
fn a_report_grown_by_epochs_equals_the_longer_one_run_from_scratch() {
    use descent::lab::{OneOrList, VariantSpec};
    // SGD at a constant rate continues each run from its checkpoint; Adam with a cosine spanning
    // the whole budget must run again (its rates change from the first update).
    let experiment = |epochs: u32| {
        ExperimentSpec {
            problem: Some("mnist-logreg".into()),
            optimizers: Some(vec!["sgd".into()]),
            variants: vec![VariantSpec {
                optimizer: "adam".into(),
                schedule: Some(OneOrList::One("cosine".into())),
                ..VariantSpec::default()
            }],
            lrs: Some(LrGrid::List(vec![0.1, 0.001])),
            seeds: Some(2),
            epochs: Some(epochs),
            val_size: Some(2000),
            keep_checkpoints: Some(true),
            ..ExperimentSpec::default()
        }
        .resolve(None)
        .unwrap()
    };
    let never = Arc::new(AtomicBool::new(false));
    let dir = tempfile::tempdir().unwrap();
    let before = lab::run(&experiment(2), dir.path(), 2, &never, &|_| {}).unwrap();
    // Kept for SGD's runs (Adam's schedule spans the budget: they could not continue).
    let kept = |variant: &str| {
        let runs = std::fs::read_dir(dir.path().join("runs").join(variant)).unwrap();
        runs.filter(|run| run.as_ref().unwrap().path().join("checkpoint.safetensors").exists()).count()
    };
    assert_eq!((kept("sgd"), kept("adam")), (4, 0));
    let sgd_epochs = AtomicUsize::new(0);
    let reruns = std::sync::Mutex::new(Vec::new());
    let grown = lab::run(&experiment(3), dir.path(), 2, &never, &|event| match event {
        LabEvent::Epoch { variant: "sgd", .. } => {
            sgd_epochs.fetch_add(1, Ordering::SeqCst);
        }
        LabEvent::Rerun { variant, reason, .. } => reruns.lock().unwrap().push(format!("{variant}: {reason}")),
        _ => {}
    })
    .unwrap();
    // Every SGD run the shorter report made trains one epoch more; those it did not, three.
    let sgd: Vec<_> = grown.runs.iter().filter(|r| r.variant == "sgd").collect();
    let made_before = |r: &&&descent::lab::RunResult| {
        before.runs.iter().any(|b| b.variant == "sgd" && b.setting == r.setting && b.seed == r.seed)
    };
    let continued = sgd.iter().filter(made_before).count();
    assert!(continued >= 2, "both tuning runs at least");
    assert_eq!(sgd_epochs.load(Ordering::SeqCst), continued + 3 * (sgd.len() - continued));
    // Adam's runs of the shorter report, each said to run again for its schedule.
    let reruns = reruns.into_inner().unwrap();
    let adam_before = before.runs.iter().filter(|r| r.variant == "adam").count();
    assert_eq!(reruns.len(), adam_before, "{reruns:?}");
    assert!(reruns.iter().all(|r| r.starts_with("adam: its schedule 'cosine' is stretched")), "{reruns:?}");
    assert!(grown.runs.iter().all(|r| r.epochs.len() == 3));
    let scratch_dir = tempfile::tempdir().unwrap();
    let scratch = lab::run(&experiment(3), scratch_dir.path(), 2, &never, &|_| {}).unwrap();
    assert_eq!(without_seconds(grown), without_seconds(scratch));
    // A shorter budget is not growth.
    let error = lab::prepare(&experiment(2), dir.path()).unwrap_err().to_string();
    assert!(error.contains("'epochs = 3' against 'epochs = 2'"), "{error}");
}

#[test]
fn on_the_quadratic_the_chosen_rates_follow_the_validation_numbers() {
    // Deterministic: one run per rate. SGD on ½(x² + 100y²) is stable only for ε < 2/100, so of
    // 0.001, 0.01 and 0.1 the middle one is best, and 0.1 (y ← −9y) overflows f64 near step 161.
    let experiment = ExperimentSpec {
        problem: Some("quadratic".into()),
        optimizers: Some(vec!["sgd".into(), "momentum".into()]),
        lrs: Some(LrGrid::List(vec![0.001, 0.01, 0.1])),
        ..ExperimentSpec::default()
    }
    .resolve(None)
    .unwrap();
    assert_eq!(experiment.seeds, 1);
    let dir = tempfile::tempdir().unwrap();
    let results = lab::run(&experiment, dir.path(), 2, &Arc::new(AtomicBool::new(false)), &|_| {}).unwrap();
    let sgd = &experiment.variants[0];
    assert_eq!(results.chosen_lr(sgd), Some(0.01));
    let diverged = results.runs_of("sgd").find(|r| r.setting.lr == 0.1).unwrap();
    assert!(diverged.diverged.is_some() && diverged.epochs.len() < 200);
    // f after k steps of SGD from (−1.5, 0.5) at ε = 0.01: ½(1.5² (0.99)^{2k} + 100 · 0.5² · 0^{2k}).
    let last = results.runs_of("sgd").find(|r| r.setting.lr == 0.01).unwrap().last().unwrap();
    let expected = 0.5 * 2.25 * 0.99f64.powi(400);
    assert!((last.val_error - expected).abs() < 1e-12 * expected.max(1e-300) + 1e-300, "{}", last.val_error);
    assert_eq!(results.runs_of("sgd").next().unwrap().path.len(), 201);
}
