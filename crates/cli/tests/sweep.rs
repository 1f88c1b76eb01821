//! `descent sweep-batch` through the real binary on the bundled data, with tiny budgets.

use std::path::Path;
use std::process::{Command, Output};

use descent::lab::RunResult;

fn descent(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_descent")).args(args).current_dir(dir).output().expect("the binary runs")
}

/// `descent sweep-batch` with the flags of `args`, separated by spaces.
fn sweep(args: &str, dir: &Path) -> Output {
    let args: Vec<&str> = args.split_whitespace().collect();
    descent(&[&["sweep-batch"], &args[..]].concat(), dir)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The rows of a CSV file as maps from column to text.
fn rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let csv = std::fs::read_to_string(path).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines.map(|line| header.iter().map(|h| h.to_string()).zip(line.split(',').map(String::from)).collect()).collect()
}

fn number(row: &std::collections::HashMap<String, String>, column: &str) -> f64 {
    row[column].parse().unwrap_or_else(|_| panic!("{column}: {}", row[column]))
}

/// The result a run folder of the sweep holds: size `m`, rate `lr`, seed `seed`.
fn run(out: &Path, m: usize, lr: f64, seed: u64) -> RunResult {
    let file = out.join(format!("runs/m-{m}/lr-{lr:?}-seed-{seed}/result.json"));
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))).unwrap()
}

#[test]
fn a_diverging_rate_completes_and_is_recorded_under_a_budget_of_updates() {
    let dir = tempfile::tempdir().unwrap();
    // SGD at 1000 on the MLP overflows within a few updates, at every size.
    let output = sweep(
        "--problem mnist-mlp --sizes 32,128 --lrs 0.1,1000 --budget updates:20 --jobs 2 --threads 1 \
         --timing-examples 64 --out s",
        dir.path(),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("m-32         lr 1000  seed 1: diverged: non-finite loss"), "{stdout}");
    let out = dir.path().join("s");
    for row in rows(&out.join("rates.csv")) {
        let diverged = row["lr"] == "1000.0";
        assert_eq!(row["tuning_val_error"] == "inf", diverged, "{row:?}");
        assert_eq!(row["diverged_seeds"], if diverged { "1" } else { "0" }, "{row:?}");
    }
    for (row, m) in rows(&out.join("sweep.csv")).iter().zip([32, 128]) {
        assert_eq!((number(row, "batch"), number(row, "best_lr"), number(row, "diverged_rates")), (m as f64, 0.1, 1.0));
        assert_eq!(number(row, "updates"), 20.0);
        // Every size took exactly the 20 updates of the budget, inside its first epoch.
        for (lr, seed) in [(0.1, 1), (0.1, 2)] {
            let result = run(&out, m, lr, seed);
            assert_eq!(result.epochs.iter().map(|e| (e.epoch, e.step)).collect::<Vec<_>>(), [(1, 20)]);
        }
        assert!(run(&out, m, 1000.0, 1).diverged.is_some());
    }
    for file in ["rates.svg", "sweep.svg", "results.json", "summary.csv"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    // Where every rate diverges, so does the throughput timing (at the smallest rate): the sweep
    // still completes, with no throughput and no error to report for the size.
    let output = sweep(
        "--problem mnist-mlp --sizes 32 --lrs 1000 --budget updates:8 --timing-examples 64 --out all",
        dir.path(),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("m = 32: throughput not measured (non-finite loss"),
        "{}",
        text(&output.stdout)
    );
    let row = &rows(&dir.path().join("all/sweep.csv"))[0];
    assert_eq!((&*row["examples_per_second"], &*row["val_error"], &*row["tuning_val_error"]), ("NaN", "NaN", "inf"));
}

#[test]
fn the_best_rate_csv_follows_the_runs_validation_errors_and_a_rerun_reuses_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let args = "--problem mnist-logreg --sizes 32,256 --lrs 0.03,0.3,3 --budget epochs:1 --tuning-seeds 2 \
                --seeds 1 --jobs 2 --threads 1 --timing-examples 64 --out s";
    let output = sweep(args, dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let out = dir.path().join("s");
    let final_val = |m, lr, seed| run(&out, m, lr, seed).epochs.last().unwrap().val_error;
    let sizes = rows(&out.join("sweep.csv"));
    let grid = rows(&out.join("rates.csv"));
    let mut best_of_smallest = None;
    for (row, m) in sizes.iter().zip([32, 256]) {
        // The mean over the tuning seeds 1 and 2 of every rate, from the runs' own files.
        let scores: Vec<(f64, f64)> =
            [0.03, 0.3, 3.0].iter().map(|&lr| (lr, (final_val(m, lr, 1) + final_val(m, lr, 2)) / 2.0)).collect();
        for &(lr, score) in &scores {
            let listed = grid.iter().find(|r| number(r, "batch") == m as f64 && number(r, "lr") == lr).unwrap();
            assert!((number(listed, "tuning_val_error") - score).abs() < 1e-12, "{listed:?} against {score}");
        }
        let (best, score) =
            scores.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.total_cmp(&b.0))).unwrap();
        assert_eq!(number(row, "best_lr"), best, "{row:?} against {scores:?}");
        assert!((number(row, "tuning_val_error") - score).abs() < 1e-12);
        // Reported on seed 3 alone, at the chosen rate.
        assert!((number(row, "val_error") - final_val(m, best, 3)).abs() < 1e-12);
        // One epoch: its updates are the examples over m, rounded up.
        assert_eq!(number(row, "updates_per_epoch"), run(&out, m, best, 3).epochs[0].step as f64);
        // The rules start from the smallest size's best rate.
        let first = *best_of_smallest.get_or_insert(best);
        assert!((number(row, "linear_rule_lr") - first * m as f64 / 32.0).abs() < 1e-12);
        assert!((number(row, "sqrt_rule_lr") - first * (m as f64 / 32.0).sqrt()).abs() < 1e-12);
    }
    // The same command again runs nothing: all 14 runs are read back, and the CSV is the same
    // apart from the throughput, which is measured again.
    let again = sweep(args, dir.path());
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout).matches("(from an earlier invocation)").count(), 2 * (3 * 2 + 1));
    let columns = |rows: &[std::collections::HashMap<String, String>]| -> Vec<String> {
        rows.iter().map(|r| format!("{} {} {}", r["batch"], r["best_lr"], r["val_error"])).collect()
    };
    assert_eq!(columns(&rows(&out.join("sweep.csv"))), columns(&sizes));
}

#[test]
fn bad_input_is_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 9] = [
        (&["--sizes", ","], "--sizes ',': the list is empty"),
        (&["--sizes", "16,0"], "--sizes 16,0: expected batch sizes >= 1"),
        (&["--sizes", "16,16"], "--sizes 16,16: a size is listed twice"),
        (&["--problem", "mnist-logreg", "--sizes", "16,100000"], "--sizes 16,100000: 100000 is more than the"),
        (&["--budget", "updates:0"], "--budget updates:0: expected epochs:N or updates:N"),
        (&["--budget", "weeks:3"], "--budget weeks:3"),
        (&["--lr", "0.1"], "--lr: sweep-batch tunes the rate"),
        (&["--seeds", "0"], "--seeds 0: must be at least 1"),
        (&["--timing-examples", "0"], "--timing-examples 0: must be at least 1"),
    ];
    for (args, expected) in cases {
        let output = descent(&[&["sweep-batch", "--out", "s"], args].concat(), dir.path());
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!dir.path().join("s").exists(), "{args:?} wrote nothing");
    }
}

#[test]
fn a_sweep_grown_by_updates_continues_whole_epochs_and_equals_the_longer_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let args = |updates: u32, out: &str| {
        format!(
            "--problem mnist-logreg --sizes 1000,3000 --lrs 0.1 --budget updates:{updates} --jobs 2 --threads 1 \
             --timing-examples 64 --keep-checkpoints --out {out}"
        )
    };
    let first = sweep(&args(4, "grown"), dir.path());
    assert!(first.status.success(), "{}", text(&first.stderr));
    // 5,000 training examples: 5 updates an epoch at m = 1000, 2 at m = 3000. Four updates end
    // inside m = 1000's first epoch, and on m = 3000's second epoch's end.
    let per_epoch: Vec<f64> =
        rows(&dir.path().join("grown/sweep.csv")).iter().map(|r| number(r, "updates_per_epoch")).collect();
    assert_eq!(per_epoch, [5.0, 2.0]);
    let grown = sweep(&args(8, "grown"), dir.path());
    assert!(grown.status.success(), "{}", text(&grown.stderr));
    let stdout = text(&grown.stdout);
    let reruns: Vec<&str> = stdout.lines().filter(|line| line.contains("runs again from the start")).collect();
    assert_eq!(reruns.len(), 2, "{stdout}");
    assert!(reruns.iter().all(|line| line.starts_with("m-1000 ")
        && line.ends_with("its budget of 4 updates ended inside epoch 1, which was evaluated as its last")));
    let scratch = sweep(&args(8, "scratch"), dir.path());
    assert!(scratch.status.success(), "{}", text(&scratch.stderr));
    for (m, seed) in [(1000, 1), (1000, 2), (3000, 1), (3000, 2)] {
        let epochs = |out: &str| -> Vec<(u32, u64, f64, f64)> {
            let result = run(&dir.path().join(out), m, 0.1, seed);
            result.epochs.iter().map(|e| (e.epoch, e.step, e.val_error, e.test_loss)).collect()
        };
        assert_eq!(epochs("grown"), epochs("scratch"), "m = {m}, seed {seed}");
        assert_eq!(epochs("grown").last().unwrap().1, 8);
    }
}
