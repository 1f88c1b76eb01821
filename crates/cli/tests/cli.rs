//! The real `descent` binary on its default job, its files, and bad input.

use std::path::Path;
use std::process::{Command, Output};

use descent::functions::Function2d;

fn descent(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_descent")).args(args).current_dir(dir).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn default_optimize_shows_the_chapter_point_and_writes_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let output = descent(&["optimize"], dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    // SGD never reaches f < 1e-6 on the κ = 100 quadratic in 200 steps; momentum does.
    let row = |name: &str| stdout.lines().find(|line| line.starts_with(name)).unwrap_or_default().to_string();
    assert!(row("sgd ").ends_with("never"), "{stdout}");
    assert!(!row("momentum").ends_with("never"), "{stdout}");
    let csv = std::fs::read_to_string(dir.path().join("runs/optimize/trajectories.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some("optimizer,step,x,y,f"));
    assert_eq!(csv.lines().count(), 1 + 3 * 201);
    let svg = std::fs::read_to_string(dir.path().join("runs/optimize/trajectories.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("momentum") && svg.trim_end().ends_with("</svg>"));
}

#[test]
fn csv_numbers_parse_back_to_the_same_f64() {
    let dir = tempfile::tempdir().unwrap();
    let args =
        ["optimize", "--function", "rosenbrock", "--start=-1.5,2", "--optimizer", "adam,nesterov", "--lr", "0.001"];
    let output = descent(&[&args[..], &["--steps", "50", "--out", "t.csv"]].concat(), dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let csv = std::fs::read_to_string(dir.path().join("t.csv")).unwrap();
    let rosenbrock = Function2d::named("rosenbrock", 100.0).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|line| line.split(',').collect()).collect();
    assert_eq!(rows.len(), 2 * 51);
    assert_eq!(&rows[0][..4], &["adam", "0", "-1.5", "2.0"]);
    for row in rows {
        let (x, y, f): (f64, f64, f64) = (row[2].parse().unwrap(), row[3].parse().unwrap(), row[4].parse().unwrap());
        // f was computed from the unrounded x, y: equality proves x and y were printed exactly.
        assert_eq!(f.to_bits(), rosenbrock.value(x, y).to_bits());
    }
}

#[test]
fn png_plots_are_png_files() {
    let dir = tempfile::tempdir().unwrap();
    let output = descent(&["optimize", "--function", "himmelblau", "--steps", "20", "--plot", "h.png"], dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let png = std::fs::read(dir.path().join("h.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 10_000);
}

#[test]
fn options_given_as_flags_reproduce_pytorch() {
    // Each option PyTorch has, set by its flag, must take `descent optimize` along the path
    // torch.optim took (recorded by tools/torch_reference.py; Rosenbrock from (−1.5, 2), 200 steps).
    let reference = include_str!("../../core/tests/data/torch_trajectories.csv");
    let cases: [(&str, &[&str]); 6] = [
        ("momentum+dampening=0.1+weight_decay=0.01", &["momentum", "--dampening", "0.1", "--weight-decay", "0.01"]),
        ("rmsprop+momentum=0.5+centered", &["rmsprop", "--momentum", "0.5", "--centered"]),
        (
            "adagrad+lr_decay=0.01+initial_accumulator=0.1",
            &["adagrad", "--lr-decay", "0.01", "--initial-accumulator", "0.1"],
        ),
        ("nadam+weight_decay=0.1+decoupled", &["nadam", "--weight-decay", "0.1", "--decoupled-weight-decay"]),
        ("amsgrad+weight_decay=0.1+decoupled", &["amsgrad", "--weight-decay", "0.1", "--decoupled-weight-decay"]),
        ("nadam+momentum_decay=0.01", &["nadam", "--momentum-decay", "0.01"]),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (variant, flags) in cases {
        let prefix = format!("{variant},rosenbrock,");
        let rows: Vec<&str> = reference.lines().filter(|line| line.starts_with(&prefix)).collect();
        let last: Vec<&str> = rows.last().unwrap().split(',').collect();
        let (lr, expected) = (last[2], [last[4].parse::<f64>().unwrap(), last[5].parse::<f64>().unwrap()]);
        let common =
            ["optimize", "--convention", "torch", "--function", "rosenbrock", "--start=-1.5,2", "--steps", "200"];
        let args = [&common[..], &["--lr", lr, "--out", "p.csv", "--optimizer"], flags].concat();
        let output = descent(&args, dir.path());
        assert!(output.status.success(), "{variant}: {}", text(&output.stderr));
        let csv = std::fs::read_to_string(dir.path().join("p.csv")).unwrap();
        let fields: Vec<f64> =
            csv.lines().last().unwrap().split(',').skip(2).take(2).map(|v| v.parse().unwrap()).collect();
        for (got, want) in fields.iter().zip(expected) {
            // As in crates/core/tests/torch_reference.rs.
            assert!((got - want).abs() / want.abs().max(1.0) <= 1e-14, "{variant}: {got} vs PyTorch {want}");
        }
    }
}

#[test]
fn lr_find_suggests_a_rate_near_the_labs_tuned_one() {
    // The lab's tuned rates on mnist-mlp (bundled subset, 5 epochs, seed 1, chosen on validation
    // error from 3e-4, 1e-3, 3e-3, …, 3): adam 0.003, sgd 0.3, measured with
    // `descent compare --problem mnist-mlp --optimizers adam,sgd --lrs 0.0003,0.001,0.003,0.01,0.03,0.1,0.3,1,3 --seeds 1`.
    // The range test must land within a factor of 3 of each.
    let dir = tempfile::tempdir().unwrap();
    for (optimizer, tuned) in [("adam", 0.003), ("sgd", 0.3)] {
        let output = descent(&["lr-find", "--optimizer", optimizer, "--out", optimizer], dir.path());
        assert!(output.status.success(), "{}", text(&output.stderr));
        let stdout = text(&output.stdout);
        let line = stdout.lines().find(|l| l.starts_with("suggested rate: ")).expect("a suggestion");
        let suggested: f64 = line["suggested rate: ".len()..].split(' ').next().unwrap().parse().unwrap();
        assert!(suggested > tuned / 3.0 && suggested < tuned * 3.0, "{optimizer}: {suggested} vs tuned {tuned}");
        let csv = std::fs::read_to_string(dir.path().join(optimizer).join("lr-find.csv")).unwrap();
        assert_eq!(csv.lines().next(), Some("step,lr,loss,smoothed_loss"));
        assert!(csv.lines().count() > 50);
        let svg = std::fs::read_to_string(dir.path().join(optimizer).join("lr-find.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("smoothed"));
    }
    // compare --lrs find centres each grid on the suggestion: the middle rate is lr-find's.
    let args = ["compare", "--optimizers", "adam", "--lrs", "find", "--seeds", "1", "--epochs", "1", "--out", "c"];
    let output = descent(&args, dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let line = stdout.lines().find(|l| l.starts_with("lr-find: adam suggests ")).expect("the range test ran");
    let experiment = std::fs::read_to_string(dir.path().join("c/experiment.toml")).unwrap();
    let suggested = line["lr-find: adam suggests ".len()..].split(';').next().unwrap();
    assert!(experiment.contains(suggested), "{suggested} not in the grid: {experiment}");
    let output = descent(&["compare", "--problem", "quadratic", "--lrs", "find", "--out", "q"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).starts_with("error: --lrs find: the range test trains a model"));
    let output = descent(&["lr-find", "--lr", "0.1", "--out", "x"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).starts_with("error: --lr: lr-find sets the rate itself"));
    let output = descent(&["lr-find", "--start-lr", "1", "--end-lr", "0.1", "--out", "x"], dir.path());
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
}

#[test]
fn algorithm_8_7_as_printed_runs_with_eps_zero_and_eps_root() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["optimize", "--optimizer", "adam,nadam", "--eps", "0", "--eps-root", "1e-8", "--steps", "20"];
    let output = descent(&[&args[..], &["--out", "paths.csv"]].concat(), dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(std::fs::read_to_string(dir.path().join("paths.csv")).unwrap().lines().count() > 40);
}

#[test]
fn bad_input_gets_one_line_naming_the_flag_and_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 13] = [
        (&["--function", "banana"], "--function banana: unknown function"),
        (&["--optimizer", "adam,adamx"], "--optimizer adamx: unknown optimizer"),
        (&["--start", "1;2"], "--start 1;2: expected two finite numbers"),
        (&["--lr", "-0.1"], "--lr -0.1: must be a finite number >= 0"),
        (&["--optimizer", "rmsprop", "--rho", "1.5"], "--rho 1.5: must be in [0, 1)"),
        (&["--beta2", "1"], "--beta2 1: must be in [0, 1)"),
        (&["--steps", "0"], "--steps 0: must be at least 1"),
        (&["--optimizer", "sgd", "--rho", "0.5"], "--rho 0.5: none of the optimizers (sgd) has this hyperparameter"),
        (&["--schedule", "step:every=0"], "--schedule step:every=0: every must be a whole number >= 1"),
        (&["--optimizer", "rmsprop", "--eps-root", "1e-8"], "--eps-root 0.00000001: none of the optimizers (rmsprop)"),
        (&["--optimizer", "adam", "--eps-root", "-1"], "--eps-root -1: must be a finite number >= 0"),
        (&["--optimizer", "adam,sgd", "--centered"], "--centered: none of the optimizers (adam,sgd) has this"),
        (&["--optimizer", "momentum", "--dampening", "0.5"], "--dampening 0.5: must be 0 in the book convention"),
    ];
    for (args, expected) in cases {
        let output = descent(&[&["optimize", "--out", "never.csv"], args].concat(), dir.path());
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with(&format!("error: {expected}")), "{args:?}: {stderr}");
        assert!(!dir.path().join("never.csv").exists(), "{args:?} wrote its output");
    }
}

#[test]
fn bench_optim_prints_json_with_honest_byte_counts() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "bench",
        "optim",
        "--params",
        "100000",
        "--repeats",
        "3",
        "--threads",
        "1",
        "--optimizer",
        "sgd,adam,amsgrad",
        "--json",
    ];
    let output = descent(&args, dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    let bytes: Vec<u64> = rows.iter().map(|row| row["bytes_per_param"].as_u64().unwrap()).collect();
    assert_eq!(bytes, vec![12, 28, 36]);
    for row in rows {
        for key in ["optimizer", "params", "ns_per_param", "gbps", "baseline_gbps", "traffic_floor_ns_per_param"] {
            assert!(!row[key].is_null(), "{key} missing");
        }
        assert_eq!(row["params"], 100000);
        assert!(row["ns_per_param"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn bench_train_prints_json_with_its_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["bench", "train", "--problem", "mnist-logreg", "--steps", "3", "--threads", "1", "--json"];
    let output = descent(&args, dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let speed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let number = |key: &str| speed[key].as_f64().unwrap_or_else(|| panic!("{key} missing: {speed}"));
    assert_eq!(speed["problem"], "mnist-logreg");
    assert_eq!((speed["batch"].as_u64(), speed["threads"].as_u64()), (Some(128), Some(1)));
    // Every figure from what the five rounds measured, each round 3 steps × 128 examples, and
    // logistic regression 784→10 costing 2·7840 FLOPs forward and 2·7840 for ∂W (no ∂input).
    let rounds = speed["rounds"].as_array().unwrap_or_else(|| panic!("rounds missing: {speed}"));
    assert_eq!(rounds.len(), 5);
    let field = |key: &str| -> Vec<f64> { rounds.iter().map(|r| r[key].as_f64().unwrap()).collect() };
    let (seconds, cpu, peak) = (field("seconds"), field("cpu_seconds"), field("peak_gflops"));
    assert!(seconds.iter().chain(&cpu).chain(&peak).all(|&x| x > 0.0 && x.is_finite()), "{speed}");
    let middle = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[2]
    };
    let rates: Vec<f64> = seconds.iter().map(|s| 384.0 / s).collect();
    let flops = 4.0 * 7840.0;
    let expected = [
        ("examples_per_sec", middle(rates.clone())),
        ("examples_per_sec_min", rates.iter().copied().fold(f64::INFINITY, f64::min)),
        ("examples_per_sec_max", rates.iter().copied().fold(0.0, f64::max)),
        ("gflops", middle(rates.clone()) * flops / 1e9),
        ("peak_gflops", middle(peak.clone())),
        ("fraction_of_peak", middle(rates.iter().zip(&peak).map(|(r, p)| r * flops / 1e9 / p).collect())),
        ("cores_used", middle(cpu.iter().zip(&seconds).map(|(c, s)| c / s).collect())),
        ("examples_per_cpu_second", middle(cpu.iter().map(|c| 384.0 / c).collect())),
    ];
    for (key, value) in expected {
        assert!((number(key) - value).abs() <= 1e-12 * value, "{key}: {} against {value}", number(key));
    }
}
