//! Every kind of figure descent draws, opened in headless Chromium: each panel's data inside its
//! plot area (read from the SVG's coordinates), each legend outside it, no console errors; and
//! the chapter's picture telling what it shows.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn descent(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_descent")).args(args).current_dir(dir).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `descent optimize` with no options: SGD at 1.9/κ zig-zags across the valley, momentum at its
/// own rate crosses it far less often and arrives; the output and the picture say so in numbers.
#[test]
fn the_chapter_picture_says_what_it_shows() {
    let dir = tempfile::tempdir().unwrap();
    let output = descent(&["optimize"], dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    // f = ½(x² + 100y²) from y = 0.5: SGD's factor on y at ε = 0.019 is 1 − 1.9 = −0.9, so y
    // changes sign at every one of the 200 updates.
    assert!(stdout.contains("sgd at 0.019 = 1.9/κ"), "{stdout}");
    let crossings = stdout.lines().find(|l| l.starts_with("Crossings of the valley floor")).expect("crossings");
    assert!(crossings.contains("sgd 200 ("), "{crossings}");
    // Momentum's own rate comes from the grid; it must cross far less often than SGD.
    let momentum: u32 = crossings
        .split("momentum ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("momentum's count");
    assert!(momentum < 100, "{crossings}");
    let svg = std::fs::read_to_string(dir.path().join("runs/optimize/trajectories.svg")).unwrap();
    assert!(svg.contains("each at its own rate") && svg.contains("Crossings of the valley floor"), "{svg}");
}

#[test]
fn every_kind_of_figure_keeps_its_data_inside_and_its_legend_outside() {
    let dir = tempfile::tempdir().unwrap();
    let runs: [&[&str]; 4] = [
        &["optimize", "--plot", "optimize.svg"],
        &["diagnose", "--problem", "mnist-logreg", "--optimizer", "sgd", "--lr", "0.1", "--steps", "30"]
            .into_iter()
            .chain(["--val-size", "2000", "--every", "5", "--layer-stats", "--power-iterations", "3", "--out", "d"])
            .collect::<Vec<_>>(),
        &["diagnose", "--problem", "mnist-rnn", "--hidden", "16", "--steps", "10", "--val-size", "2000"]
            .into_iter()
            .chain(["--every", "5", "--power-iterations", "2", "--out", "rnn"])
            .collect::<Vec<_>>(),
        &["diagnose", "--problem", "rosenbrock", "--optimizer", "momentum", "--steps", "100", "--out", "r"],
    ];
    for args in runs {
        let output = descent(args, dir.path());
        assert!(output.status.success(), "{args:?}: {}", text(&output.stderr));
    }
    let pictures = [
        "optimize.svg",
        "d/diagnostics.svg",
        "d/layer_stats.svg",
        "d/curves.svg",
        "rnn/time_grads.svg",
        "r/diagnostics.svg",
        "r/path.svg",
    ];
    let mut page = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>plots</title></head>\n<body>\n",
    );
    for (index, picture) in pictures.iter().enumerate() {
        let svg = std::fs::read_to_string(dir.path().join(picture)).unwrap();
        page.push_str(&format!("<figure id=\"plot-{index}\">\n{svg}<figcaption>{picture}</figcaption>\n</figure>\n"));
    }
    page.push_str("</body>\n</html>\n");
    let path = dir.path().join("plots.html");
    std::fs::write(&path, page).unwrap();
    let Some((output, screenshot)) = common::check_plots_in_browser(&path, "plots-screenshot.png") else {
        return;
    };
    let found = text(&output.stdout);
    assert!(output.status.success(), "{found}\n{}", text(&output.stderr));
    assert!(found.contains("\"problems\":[]"), "{found}");
    // Every panel was measured: as many as the pictures hold plot areas.
    let panels: usize = pictures
        .iter()
        .map(|picture| std::fs::read_to_string(dir.path().join(picture)).unwrap().matches("data-frame=").count())
        .sum();
    assert!(panels >= 7, "{panels} panels in the pictures");
    assert!(found.contains(&format!("\"panels\":{panels}")), "{found}");
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 50_000, "a real screenshot");
}
