//! The lab end to end: a small comparison on the bundled MNIST subset, stopped and resumed, must
//! end with the same results as one that ran straight through; a 2-D problem tunes its rates.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use descent::lab::{self, ExperimentSpec, LabEvent, LrGrid, Results};

/// Logistic regression, two optimizers × two rates, two seeds, two epochs: 6 runs of ~0.1 s.
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
    assert_eq!(straight.runs.len(), 6);
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
    let first = lab::run_folder(dir.path(), "sgd", 0.001, 1);
    let second = lab::run_folder(dir.path(), "sgd", 0.1, 1);
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
    let error = lab::prepare(&other, report.path()).unwrap_err().to_string();
    assert!(error.contains("holds another experiment ('seeds = 2' against 'seeds = 3')"), "{error}");
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
    let diverged = results.runs_of("sgd").find(|r| r.lr == 0.1).unwrap();
    assert!(diverged.diverged.is_some() && diverged.epochs.len() < 200);
    // f after k steps of SGD from (−1.5, 0.5) at ε = 0.01: ½(1.5² (0.99)^{2k} + 100 · 0.5² · 0^{2k}).
    let last = results.runs_of("sgd").find(|r| r.lr == 0.01).unwrap().last().unwrap();
    let expected = 0.5 * 2.25 * 0.99f64.powi(400);
    assert!((last.val_error - expected).abs() < 1e-12 * expected.max(1e-300) + 1e-300, "{}", last.val_error);
    assert_eq!(results.runs_of("sgd").next().unwrap().path.len(), 201);
}
