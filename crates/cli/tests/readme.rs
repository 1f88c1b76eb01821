//! README's figures come from commands that are run. README encloses each quoted figure in
//! `<!-- figure: NAME -->` and `<!-- /figure -->`; here each NAME has its command, and the lines
//! between must be exactly what the command's output gives, formatted the same way. Figures that take
//! seconds run in every `cargo test`; those that take minutes only with
//! `DESCENT_README_FIGURES=all` (`tools/readme-figures.sh`, which also rewrites stale blocks with
//! `DESCENT_README_FIGURES=update`). Timings are not figures of this kind: they change from run
//! to run, and README gives each one with the command that measured it.

use std::path::Path;
use std::process::{Command, Output};

fn descent(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_descent")).args(args).current_dir(dir).output().expect("the binary runs")
}

fn readme_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")
}

/// One quoted figure: the arguments of its command (run in an empty folder, writing `out`),
/// whether it takes minutes, and how its output becomes the quoted text.
struct Figure {
    name: &'static str,
    args: &'static [&'static str],
    slow: bool,
    quote: fn(&Path, &str) -> String,
}

const FIGURES: &[Figure] = &[
    Figure {
        name: "compare-default",
        args: &["compare", "--jobs", "2", "--out", "out"],
        slow: true,
        quote: |dir, _| summary_table(&dir.join("out")),
    },
    Figure {
        name: "compare-quadratic-deep",
        args: &["compare", "--problem", "quadratic-deep", "--jobs", "2", "--out", "out"],
        slow: false,
        quote: |dir, _| summary_table(&dir.join("out")),
    },
    Figure {
        name: "lr-find-adam",
        args: &["lr-find", "--optimizer", "adam", "--out", "out"],
        slow: false,
        quote: suggestion,
    },
    Figure {
        name: "lr-find-sgd",
        args: &["lr-find", "--optimizer", "sgd", "--out", "out"],
        slow: false,
        quote: suggestion,
    },
];

/// lr-find's line with its suggestion, as code.
fn suggestion(_: &Path, stdout: &str) -> String {
    format!("`{}`", stdout.lines().find(|l| l.starts_with("suggested rate: ")).unwrap_or("no suggestion"))
}

/// A comparison's `summary.csv` as README shows it: each optimizer's chosen rate, final test
/// metric over the reported seeds, rate range, epochs to target and diverged runs.
fn summary_table(out: &Path) -> String {
    let csv = std::fs::read_to_string(out.join("summary.csv")).expect("the comparison wrote summary.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let percent = results["metric"].as_str().unwrap_or("").starts_with("0-1 error");
    let value = |cell: &str| -> String {
        match cell.parse::<f64>() {
            Ok(v) if percent => format!("{:.2}%", 100.0 * v),
            Ok(v) => format!("{v:.4}"),
            Err(_) => "–".into(),
        }
    };
    let mut table = String::from(
        "| optimizer | chosen rate | final test (mean ± std) | rate range (decades) | epochs to target | diverged runs |\n\
         |---|---|---|---|---|---|\n",
    );
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let width = cells[column("lr_width_decades")].parse::<f64>().map_or("–".into(), |w| {
            format!("{}{w:.2}", if cells[column("lr_width_open")] == "true" { "≥ " } else { "" })
        });
        table.push_str(&format!(
            "| {} | {} | {} ± {} | {width} | {} | {} |\n",
            cells[column("optimizer")],
            cells[column("best_lr")],
            value(cells[column("test_error_mean")]),
            value(cells[column("test_error_std")]),
            cells[column("epochs_to_target")],
            cells[column("diverged_runs")],
        ));
    }
    table.trim_end().to_string()
}

/// The lines between `<!-- figure: NAME -->` and `<!-- /figure -->` in `readme`, and their
/// byte range.
fn quoted(readme: &str, name: &str) -> Option<(std::ops::Range<usize>, String)> {
    let marker = format!("<!-- figure: {name} -->\n");
    let body = readme.find(&marker)? + marker.len();
    let close = body + readme[body..].find("<!-- /figure -->")?;
    Some((body..close, readme[body..close].trim_end().to_string()))
}

#[test]
fn readme_quotes_what_its_commands_print() {
    let mode = std::env::var("DESCENT_README_FIGURES").unwrap_or_default();
    let (all, update) = (mode == "all" || mode == "update", mode == "update");
    let mut readme = std::fs::read_to_string(readme_path()).unwrap();
    let mut stale = Vec::new();
    for figure in FIGURES {
        let Some((range, in_readme)) = quoted(&readme, figure.name) else {
            panic!("README has no block marked <!-- figure: {} -->", figure.name);
        };
        if figure.slow && !all {
            eprintln!("skipped {} (minutes; DESCENT_README_FIGURES=all runs it)", figure.name);
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let output = descent(figure.args, dir.path());
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "{}: {}", figure.name, String::from_utf8_lossy(&output.stderr));
        let fresh = (figure.quote)(dir.path(), &stdout);
        if fresh != in_readme {
            if update {
                readme.replace_range(range, &format!("{fresh}\n"));
            }
            stale.push(format!("{}:\nREADME has\n{in_readme}\nthe command gives\n{fresh}", figure.name));
        }
    }
    if update {
        std::fs::write(readme_path(), &readme).unwrap();
        eprintln!("rewrote {} stale figure(s) in README.md", stale.len());
    } else {
        assert!(
            stale.is_empty(),
            "stale README figures (tools/readme-figures.sh update rewrites them):\n{}",
            stale.join("\n\n")
        );
    }
}

#[test]
fn a_stale_figure_is_found() {
    // The check itself: a block that differs from the command's output is reported.
    let readme = "text\n<!-- figure: x -->\nsuggested rate: 0.1\n<!-- /figure -->\nmore";
    let (range, text) = quoted(readme, "x").unwrap();
    assert_eq!(text, "suggested rate: 0.1");
    assert_eq!(&readme[range], "suggested rate: 0.1\n");
    assert!(quoted("no marker here", "x").is_none());
}
