//! `descent diagnose` and `train --diagnose-every` through the real binary.

use std::path::Path;
use std::process::{Command, Output};

fn descent(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_descent")).args(args).current_dir(dir).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The column `name` of a CSV file, as numbers.
fn column(csv: &str, name: &str) -> Vec<f64> {
    let mut lines = csv.lines();
    let index = lines.next().unwrap().split(',').position(|c| c == name).expect("the column exists");
    lines.map(|line| line.split(',').nth(index).unwrap().parse().unwrap()).collect()
}

#[test]
fn on_the_quadratic_lambda_max_is_100() {
    let dir = tempfile::tempdir().unwrap();
    let args =
        ["diagnose", "--problem", "quadratic", "--optimizer", "sgd", "--lr", "0.001", "--steps", "50", "--out", "D"];
    let output = descent(&args, dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let csv = std::fs::read_to_string(dir.path().join("D/diagnostics.csv")).unwrap();
    assert!(csv.starts_with("step,loss,grad_norm,gHg,first_order,second_order,actual_change,lambda_max"), "{csv}");
    let lambdas = column(&csv, "lambda_max");
    assert_eq!(lambdas.len(), 50);
    assert!(lambdas.iter().all(|l| (l - 100.0).abs() <= 0.1), "{lambdas:?}");
    for file in ["diagnostics.svg", "diagnostics.png", "path.svg", "report.html"] {
        assert!(dir.path().join("D").join(file).is_file(), "{file}");
    }
    // H = diag(1, 100): tr(H) = 101 from every probe; for SGD, Δθ = −εg, so on this exact
    // quadratic α = εgᵀHg/gᵀg − 1.
    assert!(column(&csv, "hessian_trace").iter().all(|t| (t - 101.0).abs() < 1e-6), "{csv}");
    let alphas = column(&csv, "alpha");
    for ((alpha, g_hg), norm) in alphas.iter().zip(column(&csv, "gHg")).zip(column(&csv, "grad_norm")) {
        let expected = 0.001 * g_hg / (norm * norm) - 1.0;
        assert!((alpha - expected).abs() < 1e-6, "{alpha} against {expected}");
    }
    // The terminal shows λ_max, the stable rate 2/100 and the rate's share of it, 0.001/0.02,
    // for the 2-D problem too.
    let stdout = text(&output.stdout);
    let table = stdout.lines().skip_while(|line| !line.starts_with("update")).nth(2).expect("a table row");
    let cells: Vec<&str> = table.split_whitespace().collect();
    assert_eq!(&cells[..6], ["0", "13.62", "100", "0.02", "0.001", "0.05"], "{stdout}");
    assert!(stdout.contains("sgd is stable on the local quadratic for ε < 2/λ_max ≈ 0.02"), "{stdout}");
}

#[test]
fn momentum_is_diagnosed_on_its_own_update_and_its_rises_stay_visible() {
    // Heavy-ball momentum at ε = 0.01 on ½(x² + 100y²): stable for ε < 2(1 + 0.9)/100 = 0.038,
    // but its velocity carries y across the valley, so the loss rises at some updates.
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "diagnose",
        "--problem",
        "quadratic",
        "--optimizer",
        "momentum",
        "--lr",
        "0.01",
        "--steps",
        "60",
        "--out",
        "M",
    ];
    let output = descent(&args, dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let csv = std::fs::read_to_string(dir.path().join("M/diagnostics.csv")).unwrap();
    assert!(column(&csv, "stable_lr").iter().all(|s| (s / 0.038 - 1.0).abs() < 1e-4), "{csv}");
    // On a quadratic the update's second-order model is exact: ΔL = gᵀΔθ + ½ΔθᵀHΔθ.
    let predicted: Vec<f64> =
        column(&csv, "update_slope").iter().zip(column(&csv, "update_curvature")).map(|(s, c)| s + 0.5 * c).collect();
    let actual = column(&csv, "actual_change");
    for (p, a) in predicted.iter().zip(&actual) {
        assert!((p - a).abs() < 1e-6 * (1.0 + a.abs()), "{p} against {a}");
    }
    let rises = actual.iter().filter(|&&a| a > 0.0).count();
    assert!(rises > 0, "{csv}");
    let stdout = text(&output.stdout);
    assert!(stdout.contains("momentum is stable on the local quadratic for ε < 2(1 + α)/λ_max ≈ 0.038"), "{stdout}");
    assert!(stdout.contains("The update raised the loss on the diagnostic batch by more than 1%"), "{stdout}");
    // The rises (−ΔL ≤ 0) are in the log panel's strip for values ≤ 0, and stars on the loss.
    let svg = std::fs::read_to_string(dir.path().join("M/diagnostics.svg")).unwrap();
    assert!(svg.contains("≤ 0 (no logarithm)") && svg.contains("drawn in the grey strip marked ≤ 0"), "{svg}");
    assert!(svg.contains("★ the update from here raised it by over 1%"));
    let report = std::fs::read_to_string(dir.path().join("M/report.html")).unwrap();
    assert!(report.contains("tr(H) by Hutchinson's estimator with 10 Rademacher probes"), "{report}");
}

#[test]
fn train_writes_diagnostics_and_layer_stats_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "train",
        "--problem",
        "mnist-logreg",
        "--optimizer",
        "sgd",
        "--lr",
        "0.1",
        "--steps",
        "30",
        "--val-size",
        "2000",
        "--diagnose-every",
        "10",
        "--layer-stats",
        "--power-iterations",
        "5",
        "--out",
        "run",
    ];
    let output = descent(&args, dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let csv = std::fs::read_to_string(dir.path().join("run/diagnostics.csv")).unwrap();
    assert_eq!(column(&csv, "step"), vec![0.0, 10.0, 20.0]);
    let layers = std::fs::read_to_string(dir.path().join("run/layer_stats.csv")).unwrap();
    assert!(layers.starts_with("step,layer,grad_norm,param_norm,update_ratio"), "{layers}");
    assert_eq!(layers.lines().count(), 4);
    let metrics = std::fs::read_to_string(dir.path().join("run/metrics.csv")).unwrap();
    assert_eq!(column(&metrics, "step"), vec![30.0], "a 30-update budget ends inside the first epoch");
    assert!(dir.path().join("run/diagnostics.svg").is_file() && dir.path().join("run/layer_stats.svg").is_file());
}

#[test]
fn bad_diagnostics_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["diagnose", "--problem", "quadratic", "--every", "0"], "--diagnose-every 0: must be at least 1"),
        (&["diagnose", "--problem", "quadratic", "--every", "-3"], "--diagnose-every -3: must be at least 1"),
        (&["diagnose", "--problem", "rosenbrock", "--layer-stats"], "--layer-stats: rosenbrock is a 2-D function"),
        (&["diagnose", "--problem", "quadratic", "--power-tolerance", "0"], "--power-tolerance 0: must be a positive"),
        (
            &["diagnose", "--problem", "quadratic", "--drop-last"],
            "--drop-last: quadratic is a 2-D function and has no batches",
        ),
        (&["train", "--diagnose-every", "0"], "--diagnose-every 0: must be at least 1"),
    ];
    for (args, expected) in cases {
        let output = descent(args, dir.path());
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn a_diagnosed_recurrent_run_records_gradients_across_time() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "train",
        "--problem",
        "mnist-rnn",
        "--hidden",
        "32",
        "--steps",
        "10",
        "--val-size",
        "2000",
        "--diagnose-every",
        "5",
        "--power-iterations",
        "3",
        "--out",
        "rnn",
    ];
    let output = descent(&args, dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let csv = std::fs::read_to_string(dir.path().join("rnn/time_grads.csv")).unwrap();
    assert!(csv.starts_with("step,spectral_radius,t,hidden_grad_norm"), "{csv}");
    // Two diagnosed updates (0 and 5) × 28 time steps.
    assert_eq!(column(&csv, "t").len(), 56);
    assert!(column(&csv, "hidden_grad_norm").iter().all(|&g| g > 0.0 && g.is_finite()));
    assert!(column(&csv, "spectral_radius").iter().all(|&r| r > 0.5 && r < 2.0));
    assert!(dir.path().join("rnn/time_grads.svg").is_file());
    let bad = descent(&["train", "--problem", "mnist-rnn", "--hidden", "32,16", "--out", "bad"], dir.path());
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("hidden of a recurrent network is one width"), "{}", text(&bad.stderr));
}

#[test]
fn the_adding_problem_trains_and_compares_with_clipping_as_a_variant() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("clip.toml"),
        "problem = \"adding\"\nlength = 8\nlrs = [0.3]\nseeds = 1\nepochs = 2\n\n[[variant]]\nname = \"sgd\"\noptimizer = \"sgd\"\n\n[[variant]]\nname = \"sgd-clipped\"\noptimizer = \"sgd\"\nclip = \"global-norm:0.5\"\n",
    )
    .unwrap();
    let output = descent(&["compare", "--config", "clip.toml", "--val-size", "2000", "--out", "r"], dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let summary = std::fs::read_to_string(dir.path().join("r/summary.csv")).unwrap();
    assert!(summary.contains("\nsgd,sgd,0.3,") && summary.contains("\nsgd-clipped,sgd,0.3,"), "{summary}");
    let config = std::fs::read_to_string(dir.path().join("r/runs/sgd-clipped/lr-0.3-seed-1/config.toml")).unwrap();
    assert!(config.contains("length = 8") && config.contains("clip = \"global-norm:0.5\""), "{config}");
    let bad = descent(&["train", "--problem", "adding", "--length", "1"], dir.path());
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("--length 1: must be at least 2"), "{}", text(&bad.stderr));
}
