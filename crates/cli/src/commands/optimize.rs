//! `descent optimize`: optimizers on a 2-D test function, drawn on its contour plot (the momentum
//! figure of chapter 8), with their paths as CSV and a table of how far each got.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use descent::functions::{Function2d, ViewBox};
use descent::trajectory::{self, RunSettings, Trajectory};

use crate::flags::{reason, OptimizerFlags};
use crate::plot::{self, contour::Grid, Figure, PALETTE};
use crate::{bad_input, table};

/// How close to the minimum counts as "reached" in the summary table.
const TOLERANCE: f64 = 1e-6;

#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// Test function: quadratic, rosenbrock, beale, saddle, himmelblau.
    #[arg(long, value_name = "NAME", default_value = "quadratic")]
    function: String,
    /// Condition number κ of the quadratic ½(x² + κy²).
    #[arg(long, value_name = "K", default_value_t = 100.0, allow_negative_numbers = true)]
    condition: f64,
    /// Starting point X,Y (default: the function's customary start). Write --start=-1.5,2 when X
    /// is negative.
    #[arg(long, value_name = "X,Y", allow_hyphen_values = true)]
    start: Option<String>,
    #[command(flatten)]
    optimizer: OptimizerFlags,
    /// Number of updates.
    #[arg(long, value_name = "N", default_value_t = 200, allow_negative_numbers = true)]
    steps: i64,
    /// Write the paths as CSV: optimizer,step,x,y,f (step 0 is the start).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Draw the paths on the contour plot, as .svg or .png.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

/// Where the defaults write when neither --out nor --plot is given.
const DEFAULT_FOLDER: &str = "runs/optimize";

pub fn run(args: OptimizeArgs) -> Result<()> {
    let function = parse_function(&args.function, args.condition)?;
    let start = match &args.start {
        Some(text) => parse_start(text)?,
        None => function.default_start(),
    };
    if args.steps < 1 {
        return Err(bad_input(format!("--steps {}: must be at least 1", args.steps)));
    }
    let steps = args.steps as u64;
    let mut configs = args.optimizer.configs("sgd,momentum,adam", |_| function.suggested_lr())?;
    // Every point of every path is kept for the table, the CSV and the plot: about 100 bytes
    // each, text included.
    let bytes = steps.checked_add(1).and_then(|points| points.checked_mul(100 * configs.len() as u64));
    descent::files::check_memory(bytes, "steps", &format!("{steps} steps of {} optimizers", configs.len()))
        .map_err(|e| bad_input(format!("--steps {steps}: {e}")))?;
    let clip = args.optimizer.clip()?;
    // The chapter's picture: SGD at 1.9/κ, where it zig-zags; every other optimizer at its own
    // best rate, so that what differs is the rule and not a rate chosen for SGD.
    let tuned = args.optimizer.lr.is_none() && matches!(function, Function2d::Quadratic { .. });
    if tuned {
        for config in configs.iter_mut().filter(|c| c.name != "sgd") {
            config.lr = best_rate(&function, config, start, steps, &args.optimizer)?;
        }
    }
    let mut paths = Vec::new();
    for config in &configs {
        let settings = RunSettings { start, steps, schedule: args.optimizer.schedule(config.lr, steps)?, clip };
        paths.push(trajectory::run(&function, config, &settings)?);
    }

    let (out, plot_path) = match (&args.out, &args.plot) {
        (None, None) => {
            std::fs::create_dir_all(DEFAULT_FOLDER)
                .with_context(|| format!("{DEFAULT_FOLDER}: cannot create folder"))?;
            (
                Some(Path::new(DEFAULT_FOLDER).join("trajectories.csv")),
                Some(Path::new(DEFAULT_FOLDER).join("trajectories.svg")),
            )
        }
        (out, plot) => (out.clone(), plot.clone()),
    };
    if let Some(path) = &out {
        write_csv(&paths, path)?;
    }
    if let Some(path) = &plot_path {
        if !matches!(path.extension().and_then(|e| e.to_str()), Some("svg" | "png")) {
            return Err(bad_input(format!("--plot {}: expected a .svg or .png file name", path.display())));
        }
        let mut figure = contour_figure(&function, &paths, &args.optimizer.schedule);
        if let Function2d::Quadratic { .. } = function {
            let rates = if tuned { "each at its own rate" } else { "one rate" };
            figure = figure.labels(
                &format!("{function}, {steps} updates, {rates}"),
                "x (along the valley)",
                "y (across it)",
            );
            for line in valley_notes(&function, &paths, &configs, tuned) {
                figure.note(&line);
            }
        }
        plot::save(&figure, path)?;
    }

    let lrs: Vec<f64> = configs.iter().map(|c| c.lr).collect();
    println!(
        "{function} from ({}, {}), {steps} steps, {} convention, schedule {}",
        start[0], start[1], args.optimizer.convention, args.optimizer.schedule
    );
    println!();
    print!("{}", summary_table(&function, &paths, &lrs));
    if let Function2d::Quadratic { .. } = function {
        println!();
        for line in valley_notes(&function, &paths, &configs, tuned) {
            println!("{line}");
        }
    }
    for path in [&out, &plot_path].into_iter().flatten() {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn parse_function(name: &str, condition: f64) -> Result<Function2d> {
    Function2d::named(name, condition).map_err(|error| match error {
        descent::Error::Config(config) => bad_input(format!("--function {name}: {}", reason(&config))),
        descent::Error::Invalid { message, .. } => bad_input(format!("--condition {condition}: {message}")),
        other => bad_input(other.to_string()),
    })
}

/// Parses `X,Y` into two finite numbers.
fn parse_start(text: &str) -> Result<[f64; 2]> {
    let numbers: Vec<Option<f64>> =
        text.split(',').map(|part| part.trim().parse::<f64>().ok().filter(|v| v.is_finite())).collect();
    match numbers[..] {
        [Some(x), Some(y)] => Ok([x, y]),
        _ => Err(bad_input(format!("--start {text}: expected two finite numbers X,Y (e.g. --start=-1.5,2)"))),
    }
}

fn write_csv(paths: &[Trajectory], file: &Path) -> Result<()> {
    let mut csv = String::from("optimizer,step,x,y,f\n");
    for path in paths {
        for point in &path.points {
            // `{:?}` prints the shortest decimal that parses back to the same f64.
            let _ = writeln!(csv, "{},{},{:?},{:?},{:?}", path.optimizer, point.step, point.x, point.y, point.f);
        }
    }
    crate::plot::write_file(file, csv.as_bytes())
}

fn summary_table(function: &Function2d, paths: &[Trajectory], lrs: &[f64]) -> String {
    let rows: Vec<Vec<String>> = paths
        .iter()
        .zip(lrs)
        .map(|(path, lr)| {
            let reached = match (path.diverged_at, path.steps_to(function, TOLERANCE), function.minimum_value()) {
                (Some(step), _, _) => format!("diverged at step {step}"),
                (None, Some(step), _) => step.to_string(),
                (None, None, Some(_)) => "never".to_string(),
                (None, None, None) => "n/a (unbounded)".to_string(),
            };
            let last = path.points.last().expect("a path has its start");
            vec![
                path.optimizer.clone(),
                table::number(*lr, 3),
                table::number(last.f, 4),
                format!("({}, {})", table::number(last.x, 4), table::number(last.y, 4)),
                reached,
            ]
        })
        .collect();
    table::render(&["optimizer", "lr", "final f", "final (x, y)", "steps to f - f* < 1e-6"], &rows)
}

/// The grid of rates an optimizer's own best is chosen from: 1, 2, 5 × 10⁻⁴ … 10⁰.
const RATE_GRID: [f64; 13] = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0];

/// The rate of `RATE_GRID` with which `config` gets within `TOLERANCE` of the minimum in the
/// fewest updates (or, where none does, ends lowest); diverged runs never win.
fn best_rate(
    function: &Function2d,
    config: &descent_optim::OptimizerConfig,
    start: [f64; 2],
    steps: u64,
    flags: &OptimizerFlags,
) -> Result<f64> {
    let mut best: Option<((u64, f64), f64)> = None;
    for lr in RATE_GRID {
        let candidate = descent_optim::OptimizerConfig { lr, ..config.clone() };
        let settings = RunSettings { start, steps, schedule: flags.schedule(lr, steps)?, clip: flags.clip()? };
        let path = trajectory::run(function, &candidate, &settings)?;
        let last = path.points.last().map_or(f64::INFINITY, |p| p.f);
        if path.diverged_at.is_some() || !last.is_finite() {
            continue;
        }
        let score = (path.steps_to(function, TOLERANCE).unwrap_or(u64::MAX), last);
        if best.is_none_or(|(held, _)| score.0 < held.0 || (score.0 == held.0 && score.1 < held.1)) {
            best = Some((score, lr));
        }
    }
    Ok(best.map_or(config.lr, |(_, lr)| lr))
}

/// What the quadratic's picture shows, in numbers from the paths: the rates, how often and how
/// far each path crosses the valley (y, the steep direction), and how soon it arrives.
fn valley_notes(
    function: &Function2d,
    paths: &[Trajectory],
    configs: &[descent_optim::OptimizerConfig],
    tuned: bool,
) -> Vec<String> {
    let Function2d::Quadratic { condition } = *function else { return Vec::new() };
    let mut notes = Vec::new();
    if tuned {
        let sgd = configs.iter().filter(|c| c.name == "sgd");
        let others: Vec<String> = configs
            .iter()
            .filter(|c| c.name != "sgd")
            .map(|c| format!("{} at {}", c.name, table::number(c.lr, 3)))
            .collect();
        for c in sgd {
            notes.push(format!(
                "sgd at {} = 1.9/κ, just inside its stability limit 2/κ = {}, where it zig-zags;",
                table::number(c.lr, 3),
                table::number(2.0 / condition, 3)
            ));
        }
        if !others.is_empty() {
            notes.push(format!(
                "{}: each the rate of 1, 2, 5 × 10⁻⁴…10⁰ that gets within 10⁻⁶ of f* soonest.",
                others.join(", ")
            ));
        }
    } else {
        let rates: Vec<String> = configs.iter().map(|c| format!("{} {}", c.name, table::number(c.lr, 3))).collect();
        notes.push(format!("Rates as given: {}.", rates.join(", ")));
    }
    let mut crossings = Vec::new();
    let mut swings = Vec::new();
    let mut arrivals = Vec::new();
    for path in paths {
        let ys: Vec<f64> = path.points.iter().map(|p| p.y).collect();
        let signs = ys.windows(2).filter(|w| w[0] * w[1] < 0.0).count();
        let across: f64 = ys.windows(2).map(|w| (w[1] - w[0]).abs()).sum();
        crossings.push(format!("{} {signs} ({})", path.optimizer, table::number(across, 3)));
        let late = ys.iter().skip(21).fold(0.0f64, |m, y| m.max(y.abs()));
        swings.push(format!("{} {}", path.optimizer, table::number(late, 2)));
        let arrival = match (path.diverged_at, path.steps_to(function, TOLERANCE)) {
            (Some(step), _) => format!("{} diverged at {step}", path.optimizer),
            (None, Some(step)) => format!("{} after {step} updates", path.optimizer),
            (None, None) => format!("{} not within {} updates", path.optimizer, path.points.len() - 1),
        };
        arrivals.push(arrival);
    }
    notes.extend([
        format!("Crossings of the valley floor y = 0 (distance travelled across it): {}.", crossings.join(", ")),
        format!("Largest |y| after update 20: {}.", swings.join(", ")),
        format!("Within 10⁻⁶ of f*: {}.", arrivals.join("; ")),
    ]);
    notes
}

/// The contour plot of `function` with every path on it.
pub fn contour_figure(function: &Function2d, paths: &[Trajectory], schedule: &str) -> Figure {
    let view = plot_view(function, paths);
    let grid = Grid::sample(|x, y| function.value(x, y), view.x, view.y, 241, 181);
    // The view grows with the paths up to twice the function's own; a path beyond (diverging)
    // is cut at the frame, and the note under the plot counts its points there.
    let mut figure = Figure::new(820.0, 560.0, view.x, view.y).keep_view(true, true).labels(
        &format!("{function}: {} steps, schedule {schedule}", paths.first().map_or(0, |p| p.points.len() - 1)),
        "x",
        "y",
    );
    for level in grid.log_levels(24) {
        figure.segments(&grid.contour(level), "#9aa7b8", 0.8, 0.9);
    }
    for minimum in function.minima() {
        figure.marker((minimum[0], minimum[1]), "star", "#222222", 6.0);
    }
    for (index, path) in paths.iter().enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        let points: Vec<(f64, f64)> = path.points.iter().map(|p| (p.x, p.y)).collect();
        figure.line(&points, colour, Some(&path.optimizer));
        if let Some(last) = points.last() {
            figure.marker(*last, "square", colour, 4.5);
        }
    }
    if let Some(first) = paths.first().and_then(|p| p.points.first()) {
        figure.marker((first.x, first.y), "circle", "#000000", 5.0);
    }
    figure
}

/// The function's view, grown to take in the paths (up to twice its size each way) and kept
/// from being degenerate.
fn plot_view(function: &Function2d, paths: &[Trajectory]) -> ViewBox {
    let base = function.view();
    let grow = |(low, high): (f64, f64), values: &mut dyn Iterator<Item = f64>| {
        let span = high - low;
        values
            .filter(|v| v.is_finite())
            .fold((low, high), |(lo, hi), v| (lo.min(v.max(low - span / 2.0)), hi.max(v.min(high + span / 2.0))))
    };
    let points = || paths.iter().flat_map(|p| p.points.iter());
    ViewBox { x: grow(base.x, &mut points().map(|p| p.x)), y: grow(base.y, &mut points().map(|p| p.y)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use descent::functions::FUNCTION_NAMES;

    #[test]
    fn start_needs_two_finite_numbers() {
        assert_eq!(parse_start("-1.5, 2").unwrap(), [-1.5, 2.0]);
        for bad in ["1", "1,2,3", "a,b", "1;2", "nan,1", ""] {
            let message = parse_start(bad).unwrap_err().to_string();
            assert!(message.starts_with(&format!("--start {bad}: expected two finite numbers")), "{message}");
        }
    }

    #[test]
    fn function_names_are_checked() {
        for name in FUNCTION_NAMES {
            parse_function(name, 10.0).unwrap();
        }
        assert!(parse_function("banana", 1.0)
            .unwrap_err()
            .to_string()
            .starts_with("--function banana: unknown function"));
    }
}
