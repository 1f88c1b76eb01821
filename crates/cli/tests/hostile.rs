//! Careless and hostile use of the real binary: the user's files are never replaced or written
//! through, requests the machine cannot meet are refused before anything is allocated, and no
//! input makes descent panic. Each refusal is one line naming the flag or file, exit status 2.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn descent(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_descent")).args(args).current_dir(dir).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Exit status 2, one line on stderr containing `expected`, no panic.
fn refused(output: Output, expected: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{expected}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(expected), "expected '{expected}' in: {stderr}");
}

#[test]
fn the_users_files_are_never_replaced_or_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    for name in ["metrics.csv", "curves.svg", "summary.json"] {
        std::fs::write(mine.join(name), format!("my {name}")).unwrap();
    }
    let train = |out: &str| descent(&["train", "--problem", "mnist-logreg", "--epochs", "1", "--out", out], dir.path());
    refused(train("mine"), "--out mine: holds files that are not a descent run");
    refused(train("/"), "--out /: holds files that are not a descent run");
    for name in ["metrics.csv", "curves.svg", "summary.json"] {
        assert_eq!(std::fs::read_to_string(mine.join(name)).unwrap(), format!("my {name}"));
    }

    // A run folder with a link among descent's own names is not descent's: nothing is written
    // through the link.
    let target = dir.path().join("target.txt");
    std::fs::write(&target, "precious").unwrap();
    let linked = dir.path().join("linked");
    std::fs::create_dir(&linked).unwrap();
    std::os::unix::fs::symlink(&target, linked.join("curves.svg")).unwrap();
    refused(train("linked"), "--out linked: holds files that are not a descent run");
    let sweep = ["sweep-batch", "--problem", "mnist-logreg", "--sizes", "64", "--budget", "epochs:1", "--out", "mine"];
    refused(descent(&sweep, dir.path()), "--out mine: holds files that are not a sweep of descent's");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
}

#[test]
fn a_run_stopped_before_its_first_checkpoint_is_reused_and_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let run =
        |args: &[&str]| descent(&[&["train", "--problem", "mnist-logreg", "--epochs", "1"], args].concat(), dir.path());
    let first = run(&["--out", "a"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    // What a run killed before its first checkpoint leaves: config.toml alone.
    std::fs::remove_file(dir.path().join("a/checkpoint.safetensors")).unwrap();
    std::fs::remove_file(dir.path().join("a/metrics.csv")).unwrap();
    let again = run(&["--out", "a"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    std::fs::remove_file(dir.path().join("a/checkpoint.safetensors")).unwrap();
    let resumed = descent(&["train", "--resume", "a"], dir.path());
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert!(dir.path().join("a/checkpoint.safetensors").is_file());
}

#[test]
fn requests_beyond_the_machine_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| descent(args, dir.path());
    refused(run(&["train", "--threads", "100000"]), "--threads 100000: at most");
    refused(run(&["compare", "--jobs", "100000"]), "--jobs 100000: at most");
    refused(
        run(&["train", "--hidden", "100000000000"]),
        "hidden is too large for the memory this machine has available",
    );
    refused(run(&["train", "--problem", "adding", "--length", "100000000"]), "length is too large for the memory");
    refused(run(&["bench", "optim", "--params", "18446744073709551615"]), "--params 18446744073709551615");
    // A label of 4,000,000,000 makes as many classes: the output layer alone would not fit.
    std::fs::write(
        dir.path().join("labels.csv"),
        (0..20).map(|i| format!("{i},1,{}\n", 4_000_000_000u64 * (i % 2))).collect::<String>(),
    )
    .unwrap();
    refused(run(&["train", "--data", "labels.csv", "--val-size", "2", "--batch", "2"]), "is too large for the memory");
    refused(run(&["compare", "--config", "/dev/zero"]), "/dev/zero: is not a regular file");
    refused(run(&["optimize", "--steps", "10000000000"]), "--steps 10000000000: steps is too large for the memory");
    refused(run(&["compare", "--seeds", "4294967295"]), "seeds: at most 1000");
}

#[test]
fn no_input_makes_it_panic() {
    let dir = tempfile::tempdir().unwrap();
    // A results file naming a problem this descent does not know.
    let report = dir.path().join("report");
    std::fs::create_dir(&report).unwrap();
    let first = descent(
        &[
            "compare",
            "--problem",
            "quadratic",
            "--optimizers",
            "sgd",
            "--lrs",
            "0.001",
            "--epochs",
            "3",
            "--out",
            "report",
        ],
        dir.path(),
    );
    assert!(first.status.success(), "{}", text(&first.stderr));
    let results = std::fs::read_to_string(report.join("results.json")).unwrap();
    std::fs::write(report.join("results.json"), results.replace("\"quadratic\"", "\"cifar-100\"")).unwrap();
    let redraw = descent(&["report", "report"], dir.path());
    assert_eq!(redraw.status.code(), Some(2), "{}", text(&redraw.stderr));
    assert!(text(&redraw.stderr).contains("names a problem this descent does not know"), "{}", text(&redraw.stderr));

    // stdout closed early: the process ends quietly (SIGPIPE), without a panic message.
    let mut child = Command::new(env!("CARGO_BIN_EXE_descent"))
        .args(["optimize", "--steps", "100000", "--optimizer", "sgd,momentum,adam", "--out", "rows.csv"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert!(!text(&output.stderr).contains("panicked"), "{}", text(&output.stderr));
}

#[test]
fn resume_refuses_flags_it_would_ignore() {
    let dir = tempfile::tempdir().unwrap();
    let first = descent(&["train", "--problem", "mnist-logreg", "--epochs", "1", "--out", "run"], dir.path());
    assert!(first.status.success(), "{}", text(&first.stderr));
    refused(descent(&["train", "--resume", "run", "--lr", "0.5"], dir.path()), "--lr: cannot be changed when resuming");
    refused(descent(&["train", "--resume", "run", "--out=elsewhere"], dir.path()), "--out: cannot be changed");
    let more = descent(&["train", "--resume", "run", "--epochs", "2"], dir.path());
    assert!(more.status.success(), "{}", text(&more.stderr));
}

#[test]
fn a_second_process_on_the_same_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = Command::new(env!("CARGO_BIN_EXE_descent"))
        .args(["train", "--problem", "mnist-2c2d", "--epochs", "5", "--out", "busy"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first process holds the lock once its config is written.
    let started = std::time::Instant::now();
    while !dir.path().join("busy/config.toml").exists() && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let second = descent(&["train", "--resume", "busy"], dir.path());
    let _ = first.kill();
    let _ = first.wait();
    refused(second, &format!("busy: in use by process {}", first.id()));
}

#[test]
fn a_plot_is_written_only_under_a_name_that_says_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    refused(
        descent(&["optimize", "--steps", "5", "--plot", "x.jpg"], dir.path()),
        "--plot x.jpg: expected a .svg or .png",
    );
    assert!(!dir.path().join("x.jpg").exists());
}

#[test]
#[cfg(not(feature = "mpi"))]
fn a_binary_without_mpi_launched_as_ranks_says_how_to_build_one() {
    // What mpirun sets for each of its processes; without MPI each would train alone.
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_descent"))
        .args(["train", "--out", "run"])
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .current_dir(dir.path())
        .output()
        .unwrap();
    refused(output, "cargo build --release -p descent-cli --features mpi");
    assert!(!dir.path().join("run").exists());
}

#[test]
#[cfg(not(feature = "mpi"))]
fn bench_allreduce_refuses_one_process_and_messages_beyond_memory() {
    let dir = tempfile::tempdir().unwrap();
    refused(descent(&["bench", "allreduce"], dir.path()), "mpirun -n 2 descent bench allreduce");
    refused(descent(&["bench", "allreduce", "--max-mib", "100000000"], dir.path()), "max-mib is too large");
    refused(descent(&["bench", "allreduce", "--max-mib", "18446744073709551615"], dir.path()), "max-mib asks for more");
}
