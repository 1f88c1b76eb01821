//! `descent compare` and `descent report` through the real binary: the report folder, re-rendering,
//! bad input, and the page opened in a real headless browser.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn descent(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_descent")).args(args).current_dir(dir).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A comparison of ~2 s: logistic regression, two optimizers × two rates, two seeds, one epoch.
const SMALL: [&str; 12] = [
    "compare",
    "--problem",
    "mnist-logreg",
    "--optimizers",
    "sgd,adam",
    "--lrs",
    "0.1,0.001",
    "--seeds",
    "2",
    "--epochs",
    "2",
    "--val-size=2000",
];

const PLOTS: [&str; 7] = [
    "val-error-epochs",
    "test-error-epochs",
    "train-loss-epochs",
    "val-error-seconds",
    "test-error-seconds",
    "train-loss-seconds",
    "lr-sensitivity",
];

fn small_report(dir: &Path) -> PathBuf {
    let output = descent(&[&SMALL[..], &["--out", "report"]].concat(), dir);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("report: report/report.html"), "{stdout}");
    assert!(stdout.contains("rate 0.1 chosen on validation error") || stdout.contains("rate 0.001 chosen"), "{stdout}");
    dir.join("report")
}

#[test]
fn compare_writes_the_report_and_report_redraws_it() {
    let dir = tempfile::tempdir().unwrap();
    let report = small_report(dir.path());
    for file in ["experiment.toml", "results.json", "summary.csv", "report.html"] {
        assert!(report.join(file).is_file(), "{file} missing");
    }
    for plot in PLOTS {
        for ext in ["svg", "png"] {
            assert!(report.join("plots").join(format!("{plot}.{ext}")).is_file(), "{plot}.{ext} missing");
        }
    }
    let run = report.join("runs/adam/lr-0.001-seed-1");
    for file in ["config.toml", "metrics.csv", "summary.json", "result.json"] {
        assert!(run.join(file).is_file(), "{file} missing in {}", run.display());
    }
    let summary = std::fs::read_to_string(report.join("summary.csv")).unwrap();
    assert_eq!(summary.lines().count(), 3, "{summary}");
    assert!(summary.starts_with("optimizer,algorithm,best_lr,"), "{summary}");

    // Redrawing from results.json alone gives the same page.
    let page = std::fs::read_to_string(report.join("report.html")).unwrap();
    std::fs::remove_file(report.join("report.html")).unwrap();
    std::fs::remove_dir_all(report.join("plots")).unwrap();
    let redraw = descent(&["report", "report"], dir.path());
    assert!(redraw.status.success(), "{}", text(&redraw.stderr));
    assert_eq!(std::fs::read_to_string(report.join("report.html")).unwrap(), page);
    assert!(report.join("plots/lr-sensitivity.png").is_file());

    // Running the same comparison again reads every run back instead of training.
    let again = descent(&[&SMALL[..], &["--out", "report"]].concat(), dir.path());
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout).matches("(from an earlier invocation)").count(), 8, "{}", text(&again.stdout));
}

#[test]
fn a_two_dimensional_problem_reports_its_paths() {
    let dir = tempfile::tempdir().unwrap();
    let output =
        descent(&["compare", "--problem", "rosenbrock", "--optimizers", "momentum,adam", "--out", "r"], dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    for plot in ["contour", "gap-updates", "lr-sensitivity"] {
        assert!(dir.path().join("r/plots").join(format!("{plot}.svg")).is_file(), "{plot}");
    }
    let page = std::fs::read_to_string(dir.path().join("r/report.html")).unwrap();
    assert!(page.contains("id=\"plot-contour\"") && page.contains("Rosenbrock"), "the page shows the contour");
}

#[test]
fn bad_input_is_named_and_nothing_is_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mine")).unwrap();
    std::fs::write(dir.path().join("mine/notes.txt"), "keep me").unwrap();
    std::fs::write(dir.path().join("bad.toml"), "problem = \"mnist-logreg\"\nseeds = \"three\"\n").unwrap();
    std::fs::write(dir.path().join("unknown.toml"), "[[variant]]\noptimizer = \"adam\"\nbeta3 = 0.9\n").unwrap();
    let cases: [(&[&str], &str); 9] = [
        (&["--optimizers", "adam,adamx"], "--optimizers adamx: unknown optimizer"),
        (&["--problem", "imagenet"], "--problem imagenet: unknown problem"),
        (&["--lrs", ","], "--lrs ',': the list is empty"),
        (&["--lrs", "0.1,-0.01"], "--lrs 0.1,-0.01: expected positive numbers"),
        (&["--lrs", "0"], "--lrs 0: expected positive numbers"),
        (&["--seeds", "0"], "--seeds 0: must be at least 1"),
        (&["--config", "bad.toml"], "bad.toml: line 2, key `seeds`"),
        (&["--config", "unknown.toml"], "unknown field `beta3`"),
        (&["--out", "mine"], "mine: exists and is not a descent report"),
    ];
    for (args, expected) in cases {
        let output = descent(&[&["compare"], args].concat(), dir.path());
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
    }
    assert_eq!(std::fs::read_to_string(dir.path().join("mine/notes.txt")).unwrap(), "keep me");
    assert_eq!(std::fs::read_dir(dir.path().join("mine")).unwrap().count(), 1);
    let output = descent(&["report", "mine"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("mine: not a finished descent report"), "{}", text(&output.stderr));
}

/// The page in Debian's Chromium, driven by playwright-core (`tests/browser/check_report.mjs`):
/// no console errors, the table and every plot drawn, a screenshot taken. `tools/test.sh`
/// installs the browser and sets DESCENT_BROWSER_TESTS=require, so that in CI a missing browser
/// fails this test instead of skipping it.
#[test]
fn the_report_opens_in_a_headless_browser() {
    let dir = tempfile::tempdir().unwrap();
    let report = small_report(dir.path());
    let Some((output, screenshot)) = common::check_in_browser(&report.join("report.html"), "report-screenshot.png")
    else {
        return;
    };
    let found = text(&output.stdout);
    assert!(output.status.success(), "{found}\n{}", text(&output.stderr));
    assert!(found.contains("\"problems\":[]") && found.contains("\"rows\":2"), "{found}");
    for plot in PLOTS {
        assert!(found.contains(&format!("\"id\":\"plot-{plot}\"")), "{plot} not on the page: {found}");
    }
    // Every plot's panel was checked for data inside its plot area and a legend outside it.
    assert!(found.contains(&format!("\"panels\":{}", PLOTS.len())), "{found}");
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 50_000, "a real screenshot");
}

#[test]
fn a_report_grows_by_seeds_and_several_sit_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    small_report(dir.path());
    // One more reported seed: every earlier run is read back, one new run per optimizer.
    let with = |flag: &str, value: &str, out: &str| -> Vec<String> {
        let mut args: Vec<String> = SMALL.iter().map(|s| s.to_string()).collect();
        let at = args.iter().position(|a| a == flag).map(|i| i + 1);
        match at {
            Some(i) => args[i] = value.into(),
            None => args.extend([flag.to_string(), value.to_string()]),
        }
        args.extend(["--out".to_string(), out.to_string()]);
        args
    };
    let run = |args: Vec<String>| descent(&args.iter().map(String::as_str).collect::<Vec<_>>(), dir.path());
    let grown = run(with("--seeds", "3", "report"));
    assert!(grown.status.success(), "{}", text(&grown.stderr));
    let stdout = text(&grown.stdout);
    assert!(stdout.contains("tuned on seed 1, reported on seeds 2-4"), "{stdout}");
    assert_eq!(stdout.matches("(from an earlier invocation)").count(), 8, "{stdout}");
    assert_eq!(stdout.matches(" seed 4: ").count(), 2, "{stdout}");
    let summary = std::fs::read_to_string(dir.path().join("report/summary.csv")).unwrap();
    assert!(summary.lines().skip(1).all(|line| line.split(',').nth(6) == Some("3")), "{summary}");
    // Another batch size is another experiment, named.
    let other = run(with("--batch", "64", "report"));
    assert_eq!(other.status.code(), Some(2));
    assert!(text(&other.stderr).contains("'batch = 128' against 'batch = 64'"), "{}", text(&other.stderr));

    let short = run(with("--epochs", "1", "short"));
    assert!(short.status.success(), "{}", text(&short.stderr));
    let both = descent(&["report", "short", "report", "--out", "both"], dir.path());
    assert!(both.status.success(), "{}", text(&both.stderr));
    let page = std::fs::read_to_string(dir.path().join("both/side-by-side.html")).unwrap();
    assert!(page.contains("short (mnist-logreg, 1 epochs, 2 seeds)"), "{page}");
    assert!(page.contains("report (mnist-logreg, 2 epochs, 3 seeds)"), "{page}");
    assert_eq!(page.matches("<tr><td>").count(), 2, "a row per optimizer");
    let missing = descent(&["report", "short", "report"], dir.path());
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("--out DIR"), "{}", text(&missing.stderr));
}
