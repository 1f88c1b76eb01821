//! What the CLI tests share.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Opens `page` in headless Chromium with `tests/browser/check_report.mjs`, saving a screenshot at
/// `target/SCREENSHOT`; returns the script's output, or `None` (after saying so) where no browser
/// is installed. With DESCENT_BROWSER_TESTS=require (as `tools/test.sh` sets it), a missing
/// browser fails instead.
#[allow(dead_code)] // Each test binary compiles this module; not every one checks a report.
pub fn check_in_browser(page: &Path, screenshot: &str) -> Option<(Output, PathBuf)> {
    check_page(page, screenshot, &[])
}

/// [`check_in_browser`] for a page of plots alone: no summary table or verdict asked for.
#[allow(dead_code)] // Each test binary compiles this module; not every one checks plots alone.
pub fn check_plots_in_browser(page: &Path, screenshot: &str) -> Option<(Output, PathBuf)> {
    check_page(page, screenshot, &["--plots-only"])
}

fn check_page(page: &Path, screenshot: &str, options: &[&str]) -> Option<(Output, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ready = root.join("tests/browser/node_modules/playwright-core").is_dir()
        && Path::new("/usr/bin/chromium").exists()
        && Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ready {
        let required = std::env::var("DESCENT_BROWSER_TESTS").is_ok_and(|v| v == "require");
        assert!(!required, "no browser: run tools/install-browser.sh (Chromium, Node.js and playwright-core)");
        eprintln!("skipped: no headless browser here (tools/install-browser.sh installs one)");
        return None;
    }
    let screenshot = root.join("target").join(screenshot);
    let output = Command::new("node")
        .arg(root.join("tests/browser/check_report.mjs"))
        .arg(page)
        .arg(&screenshot)
        .args(options)
        .output()
        .expect("node runs");
    Some((output, screenshot))
}
