//! `descent suite` through the real binary: a reduced suite end to end, interrupted and resumed
//! to the same results; bad input; the page in a headless browser.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn descent(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_descent")).args(args).current_dir(dir).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Two small problems, two optimizers × two rates, two seeds, one epoch: 12 runs of well under
/// a second. The targets are set where one epoch reaches them, so that times are measured.
const SUITE_FILE: &str = "problems = [\"mnist-logreg\", \"quadratic-deep\"]\noptimizers = [\"sgd\", \"adam\"]\n\
lrs = [0.01, 0.1]\nseeds = 2\nepochs = 1\n\n[targets]\nmnist-logreg = 0.3\nquadratic-deep = 130.0\n";

fn reduced(dir: &Path, out: &str, jobs: &str) -> Vec<String> {
    std::fs::write(dir.join("reduced.toml"), SUITE_FILE).unwrap();
    ["suite", "--config", "reduced.toml", "--jobs", jobs, "--out", out].map(String::from).to_vec()
}

/// `suite.csv` without its machine-dependent column (seconds to target).
fn without_seconds(csv: &str) -> String {
    let column = csv.lines().next().unwrap().split(',').position(|c| c == "seconds_to_target").unwrap();
    csv.lines()
        .map(|line| {
            line.split(',').enumerate().filter(|(i, _)| *i != column).map(|(_, c)| c).collect::<Vec<_>>().join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn finished_runs(folder: &Path) -> usize {
    let Ok(variants) = std::fs::read_dir(folder.join("runs")) else { return 0 };
    variants
        .flatten()
        .flat_map(|variant| std::fs::read_dir(variant.path()).into_iter().flatten().flatten())
        .filter(|run| run.path().join("result.json").is_file())
        .count()
}

#[test]
fn a_reduced_suite_stopped_and_resumed_ends_as_one_run_straight_through() {
    let dir = tempfile::tempdir().unwrap();
    let args = reduced(dir.path(), "straight", "2");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let straight = descent(&args, dir.path());
    assert!(straight.status.success(), "{}", text(&straight.stderr));
    let folder = dir.path().join("straight");
    for file in ["suite.toml", "results.json", "suite.csv", "report.html", "plots/profile.svg", "plots/profile.png"] {
        assert!(folder.join(file).is_file(), "{file} missing");
    }
    for problem in ["mnist-logreg", "quadratic-deep"] {
        for file in ["experiment.toml", "results.json", "summary.csv", "report.html"] {
            assert!(folder.join(problem).join(file).is_file(), "{problem}/{file} missing");
        }
        assert_eq!(
            finished_runs(&folder.join(problem)),
            8,
            "{problem}: two rates on seed 1, then seeds 2 and 3, twice"
        );
    }
    let csv = std::fs::read_to_string(folder.join("suite.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.lines().skip(1).all(|row| !row.contains(",not reached,")), "one epoch reaches these targets: {csv}");
    let page = std::fs::read_to_string(folder.join("report.html")).unwrap();
    assert!(page.contains("href=\"mnist-logreg/report.html\"") && page.contains("id=\"plot-profile\""));
    assert!(text(&straight.stdout).contains("report: straight/report.html"), "{}", text(&straight.stdout));

    // The same suite on one worker, interrupted (as by Ctrl-C) once its first run is on disk.
    let args = reduced(dir.path(), "stopped", "1");
    let child = Command::new(env!("CARGO_BIN_EXE_descent"))
        .args(&args)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let first = dir.path().join("stopped/mnist-logreg");
    let started = std::time::Instant::now();
    while finished_runs(&first) == 0 && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    // SAFETY: kill(2) on the id of a child this test started and has not yet waited for.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let stopped = child.wait_with_output().unwrap();
    assert_eq!(stopped.status.code(), Some(130), "{}", text(&stopped.stderr));
    assert!(text(&stopped.stderr).contains("Run the same command again to continue"), "{}", text(&stopped.stderr));
    assert!(!dir.path().join("stopped/results.json").exists(), "an unfinished suite has no results");

    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let resumed = descent(&args, dir.path());
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert!(text(&resumed.stdout).contains("(from an earlier invocation)"), "{}", text(&resumed.stdout));
    let again = std::fs::read_to_string(dir.path().join("stopped/suite.csv")).unwrap();
    assert_eq!(without_seconds(&again), without_seconds(&csv));
    for problem in ["mnist-logreg", "quadratic-deep"] {
        let summary = |folder: &str| std::fs::read_to_string(dir.path().join(folder).join(problem).join("summary.csv"));
        let column = |csv: String| {
            let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
            let seconds = header.iter().position(|c| *c == "seconds_to_target").unwrap();
            csv.lines()
                .map(|l| l.split(',').enumerate().filter(|(i, _)| *i != seconds).map(|(_, c)| c.to_string()).collect())
                .collect::<Vec<Vec<String>>>()
        };
        assert_eq!(column(summary("stopped").unwrap()), column(summary("straight").unwrap()), "{problem}");
    }
}

#[test]
fn bad_input_is_named_and_nothing_is_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mine")).unwrap();
    std::fs::write(dir.path().join("mine/notes.txt"), "keep me").unwrap();
    std::fs::write(dir.path().join("unknown.toml"), "problems = [\"mnist-logreg\"]\nrepeats = 3\n").unwrap();
    std::fs::write(dir.path().join("empty.toml"), "problems = []\n").unwrap();
    std::fs::create_dir_all(dir.path().join("data/mnist")).unwrap();
    let cases: [(&[&str], &str); 9] = [
        (&["--problems", "mnist-logreg,imagenet"], "--problems imagenet: unknown problem"),
        (&["--optimizers", "sgd,adamx"], "--optimizers adamx: unknown optimizer"),
        (&["--problems", ","], "--problems ',': the list is empty"),
        (&["--optimizers", ""], "--optimizers '': empty name in the list"),
        (&["--config", "empty.toml"], "empty.toml: problems: the list is empty"),
        (&["--config", "unknown.toml"], "unknown field `repeats`"),
        (
            &["--problems", "quadratic-deep,mnist-logreg", "--data-root", "data"],
            "--data-root data: data/mnist/train-images-idx3-ubyte.gz: missing",
        ),
        (&["--problems", "fmnist-2c2d", "--data-root", "data"], "data/fashion-mnist: no such folder"),
        (&["--problems", "mnist-logreg", "--out", "mine"], "mine: exists and is not a descent suite"),
    ];
    for (args, expected) in cases {
        let output = descent(&[&["suite"], args].concat(), dir.path());
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
    }
    assert_eq!(std::fs::read_to_string(dir.path().join("mine/notes.txt")).unwrap(), "keep me");
    assert_eq!(std::fs::read_dir(dir.path().join("mine")).unwrap().count(), 1);
    // Nothing else was made: no default suite folder, no data written.
    assert!(!dir.path().join("reports").exists());
    assert_eq!(std::fs::read_dir(dir.path().join("data/mnist")).unwrap().count(), 0);
}

/// The suite page in Debian's Chromium (as the compare report's test): no console errors, the
/// table and the profile plot drawn.
#[test]
fn the_suite_report_opens_in_a_headless_browser() {
    let dir = tempfile::tempdir().unwrap();
    let args = reduced(dir.path(), "suite", "2");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = descent(&args, dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let page = dir.path().join("suite/report.html");
    let Some((output, screenshot)) = common::check_in_browser(&page, "suite-report-screenshot.png") else {
        return;
    };
    let found = text(&output.stdout);
    assert!(output.status.success(), "{found}\n{}", text(&output.stderr));
    assert!(found.contains("\"problems\":[]") && found.contains("\"rows\":2"), "{found}");
    assert!(found.contains("\"id\":\"plot-profile\""), "{found}");
    assert!(found.contains("\"panels\":1"), "the profile's data inside its plot area: {found}");
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 30_000, "a real screenshot");
}
