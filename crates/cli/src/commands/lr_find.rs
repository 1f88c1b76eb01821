//! `descent lr-find`: the learning-rate range test (Smith 2017), with the suggested rate and the
//! rule that chose it (`descent::lab::lr_find`).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use descent::lab::lr_find::{RangeResult, RangeTest, DIVERGENCE, SMOOTHING};
use descent::train::Splits;

use crate::flags::{positive, OptimizerFlags};
use crate::plot::{self, Figure, PALETTE};
use crate::{bad_input, table};

#[derive(Debug, Args)]
pub struct LrFindArgs {
    #[arg(long, default_value = "mnist-mlp", help = crate::flags::trainable_problem_help())]
    problem: String,
    #[command(flatten)]
    optimizer: OptimizerFlags,
    /// The rate of the first update.
    #[arg(long, value_name = "LR", default_value_t = 1e-7)]
    start_lr: f64,
    /// The rate the last update would reach.
    #[arg(long, value_name = "LR", default_value_t = 10.0)]
    end_lr: f64,
    /// Updates over which the rate grows (exponentially).
    #[arg(long, default_value_t = 100, allow_negative_numbers = true)]
    steps: i64,
    /// Minibatch size (default: the problem's).
    #[arg(long)]
    batch: Option<usize>,
    /// Folder with the four MNIST IDX files (default: the bundled subset).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Output folder (default: runs/lr-find-PROBLEM-OPTIMIZER): lr-find.csv and lr-find.svg.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// The columns of `lr-find.csv`.
const CSV_HEADER: &str = "step,lr,loss,smoothed_loss";

pub fn run(args: LrFindArgs) -> Result<()> {
    if args.optimizer.lr.is_some() {
        return Err(bad_input("--lr: lr-find sets the rate itself; give --start-lr and --end-lr"));
    }
    if args.optimizer.schedule != "constant" {
        return Err(bad_input(format!("--schedule {}: lr-find sets the schedule itself", args.optimizer.schedule)));
    }
    let test =
        RangeTest { start_lr: args.start_lr, end_lr: args.end_lr, steps: positive("--steps", args.steps)? as u64 };
    test.validate().map_err(|_| {
        bad_input(format!(
            "--start-lr {} --end-lr {} --steps {}: need 0 < start < end, finite, and at least 2 steps",
            args.start_lr, args.end_lr, args.steps
        ))
    })?;
    let mut config = crate::flags::problem_config(&args.problem)?;
    let optimizers = args.optimizer.configs("adam", |c| c.lr)?;
    let [optimizer] = &optimizers[..] else {
        return Err(bad_input("--optimizer: lr-find takes one optimizer"));
    };
    config.optimizer = optimizer.name.to_string();
    config.convention = optimizer.convention;
    config.set_overrides(&args.optimizer.overrides());
    config.maximize = args.optimizer.maximize;
    config.weight_decay = optimizer.weight_decay;
    config.clip = args.optimizer.clip()?;
    config.data = args.data.clone();
    config.seed = args.seed;
    if let Some(batch) = args.batch {
        config.batch = positive("--batch", batch as i64)? as usize;
    }
    if let Some(threads) = args.threads {
        config.threads = crate::flags::threads("--threads", threads as i64)?;
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("lr-find-{}-{}", args.problem, optimizer.name)));
    crate::flags::check_output_folder(&out, ["lr-find.csv", "lr-find.svg"], CSV_HEADER, "an lr-find")?;
    let splits = Splits::load(&config).map_err(crate::core_error)?;
    println!(
        "{}: {} ({} convention), rate from {} to {} over {} updates, batch {}",
        args.problem, optimizer.name, config.convention, test.start_lr, test.end_lr, test.steps, config.batch
    );
    let result = test.run(config, splits).map_err(crate::core_error)?;

    std::fs::create_dir_all(&out).with_context(|| format!("{}: cannot create folder", out.display()))?;
    let mut csv = format!("{CSV_HEADER}\n");
    for point in &result.points {
        let _ = writeln!(csv, "{},{:?},{:?},{:?}", point.step, point.lr, point.loss, point.smoothed);
    }
    plot::write_file(&out.join("lr-find.csv"), csv.as_bytes())?;
    plot::save_svg(&figure(&result, optimizer.name).to_svg(), &out.join("lr-find.svg"))?;

    if let Some(reason) = &result.stopped {
        println!("stopped after {} updates: {reason}", result.points.len());
    }
    match result.suggestion {
        Some(lr) => println!(
            "suggested rate: {} (the rate at the smoothed loss's minimum, {}, divided by 10)",
            table::number(lr, 3),
            table::number(10.0 * lr, 3)
        ),
        None => println!("no suggestion: no finite loss was recorded"),
    }
    println!("wrote {0}/lr-find.csv and {0}/lr-find.svg", out.display());
    Ok(())
}

/// The smoothed loss (and the raw one, faint) against log₁₀ rate, the suggestion marked.
fn figure(result: &RangeResult, optimizer: &str) -> Figure {
    let finite: Vec<_> = result.points.iter().filter(|p| p.smoothed.is_finite() && p.loss.is_finite()).collect();
    let (low, high) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| (l.min(p.lr), h.max(p.lr)));
    let span = if high > low { (low, high) } else { (1e-7, 10.0) };
    // The y range from the smoothed curve: the raw loss of a diverging step would flatten it.
    let (bottom, top) =
        finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(b, t), p| (b.min(p.smoothed), t.max(p.smoothed)));
    let (bottom, top) = if top > bottom { (bottom, top) } else { (0.0, 1.0) };
    let margin = 0.1 * (top - bottom);
    // The view follows the smoothed curve; the raw loss of a diverging step beyond it is cut at
    // the frame (and counted under the plot).
    let mut figure = Figure::new(720.0, 400.0, span, (bottom - margin, top + margin))
        .log_scale(true, false)
        .keep_view(false, true)
        .labels(
            &format!(
                "lr-find: {optimizer}, smoothed training loss (EMA β = {SMOOTHING}, stop at {DIVERGENCE}× its minimum)"
            ),
            "learning rate",
            "training loss",
        );
    let raw: Vec<(f64, f64)> = finite.iter().map(|p| (p.lr, p.loss)).collect();
    let smoothed: Vec<(f64, f64)> = finite.iter().map(|p| (p.lr, p.smoothed)).collect();
    figure.line(&raw, PALETTE[1], Some("minibatch loss"));
    figure.line(&smoothed, PALETTE[0], Some("smoothed"));
    if let Some(lr) = result.suggestion {
        let at = finite.iter().min_by(|a, b| (a.lr / lr).ln().abs().total_cmp(&(b.lr / lr).ln().abs()));
        if let Some(point) = at {
            figure.marker((lr, point.smoothed), "circle", PALETTE[2], 5.0);
        }
    }
    figure
}
