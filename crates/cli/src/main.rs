//! `descent`: train deep models and compare the optimizers that train them.
//!
//! This binary is thin: it turns flags into library calls and results into tables, files and
//! pictures. Bad input exits with status 2 and one line naming the flag and value; failures while
//! running exit with status 1.

mod commands;
mod flags;
mod plot;
mod ranks;
mod report;
mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Input the user can fix: reported as one line, exit status 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Work stopped on request (Ctrl-C) with what was done kept: exit status 130.
#[derive(Debug)]
pub struct Stopped(pub String);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Stopped {}

/// Returns a [`BadInput`] error with `message`.
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    BadInput(message.into()).into()
}

/// A core-library error as the user should see it: bad input (exit 2) unless it happened while
/// running (a non-finite value, a failing step: exit 1).
pub fn core_error(error: descent::Error) -> anyhow::Error {
    match error {
        descent::Error::NonFinite { .. } | descent::Error::Step(_) | descent::Error::Interrupted { .. } => {
            anyhow::Error::new(error)
        }
        other => bad_input(other.to_string()),
    }
}

#[derive(Parser)]
#[command(
    name = "descent",
    version,
    about = "Training deep models and comparing the optimizers that train them (Deep Learning, ch. 8)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The lab: compare optimizers on a problem, tune each one's learning rate on validation
    /// error, rerun over seeds, and write a report (HTML, plots, CSV, JSON).
    Compare(Box<commands::compare::CompareArgs>),
    /// A benchmark suite: compare's protocol over many problems, with time to target, performance
    /// profiles and scores across them (the quick suite on the bundled data by default).
    Suite(Box<commands::suite::SuiteArgs>),
    /// Train a problem with every monitor on (curvature, λ_max, per-layer gradients) and write a
    /// small report explaining each plot.
    Diagnose(Box<commands::diagnose::DiagnoseArgs>),
    /// The batch size as evidence: per size, the rate tuned on validation over a grid (against the
    /// linear and square-root scaling rules), throughput, activation memory and validation error.
    SweepBatch(Box<commands::sweep::SweepArgs>),
    /// The learning-rate range test (Smith 2017): train while the rate grows exponentially, plot
    /// the smoothed loss against the rate, and suggest a rate (the minimum's, divided by 10).
    LrFind(Box<commands::lr_find::LrFindArgs>),
    /// Redraw a comparison's report from its results, without training; or show several side by side.
    Report(commands::report::ReportArgs),
    /// Run optimizers on a 2-D test function; write their paths (CSV) and a contour plot.
    Optimize(Box<commands::optimize::OptimizeArgs>),
    /// Train a model on MNIST (the bundled subset, or --data DIR) and write a run folder.
    Train(Box<commands::train::TrainArgs>),
    /// Measure speed against a baseline measured in the same run.
    #[command(subcommand)]
    Bench(commands::bench::BenchCommand),
}

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    // Lives until main returns, so that MPI is finalized on every path out.
    let _job = match ranks::start() {
        Ok(job) => job,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let collective = ranks::collective();
    if !collective.is_root() {
        silence_stdout();
    }
    let data_parallel =
        matches!(cli.command, Command::Train(_) | Command::Compare(_) | Command::Suite(_) | Command::Bench(_));
    if collective.size() > 1 && !data_parallel {
        if collective.is_root() {
            eprintln!("error: this command runs in one process; under mpirun use train, compare, suite or bench");
        }
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Compare(args) => commands::compare::run(*args),
        Command::Suite(args) => commands::suite::run(*args),
        Command::Diagnose(args) => commands::diagnose::run(*args),
        Command::SweepBatch(args) => commands::sweep::run(*args),
        Command::LrFind(args) => commands::lr_find::run(*args),
        Command::Report(args) => commands::report::run(args),
        Command::Optimize(args) => commands::optimize::run(*args),
        Command::Train(args) => commands::train::run(*args),
        Command::Bench(command) => commands::bench::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let (code, text) = if let Some(bad) = error.downcast_ref::<BadInput>() {
                (2, format!("error: {bad}"))
            } else if let Some(stopped) = error.downcast_ref::<Stopped>() {
                (130, stopped.to_string())
            } else {
                (1, format!("error: {error:#}"))
            };
            if collective.size() == 1 {
                eprintln!("{text}");
                return ExitCode::from(code);
            }
            // In a job, the job ends on every rank (MPI_Abort), lest the others wait for this
            // one in their next sum. Rank 0 says what went wrong and ends it at once; another
            // rank first gives rank 0 a second to do so, since most failures are every rank's
            // (bad input), and then says its own (its data missing, say) with its rank.
            let line = if collective.is_root() {
                format!("{text}\n")
            } else {
                std::thread::sleep(std::time::Duration::from_secs(1));
                format!("rank {}: {text}\n", collective.rank())
            };
            // One write, so that the ranks' lines do not interleave.
            let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            ranks::abort(i32::from(code));
            ExitCode::from(code)
        }
    }
}

/// Lets a closed pipe end the process quietly, as it ends `cat` (`descent train | head -1`). Rust
/// ignores SIGPIPE, so that printing to a closed stdout would otherwise panic.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread starts; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Sends this process's standard output to /dev/null: the ranks of a job other than 0 compute
/// and stay quiet, so that the job prints one table, not N.
fn silence_stdout() {
    #[cfg(unix)]
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        // SAFETY: dup2 onto fd 1 of a file that stays open for the call; nothing holds fd 1's
        // old description in Rust (stdout is only written through the fd).
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
        }
    }
}

/// A flag that the first Ctrl-C sets (saying `what` happens now); a second Ctrl-C quits at once
/// with status 130.
pub fn stop_on_ctrl_c(what: &'static str) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&stop);
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\n{what}; press Ctrl-C again to quit at once");
    });
    stop
}
