//! The trainer on a registry problem with an observer that steers it: it watches each update's
//! learning rate and gradient norm, stops the run once the running training loss is low enough,
//! and the run then continues from its folder. Run with
//! `cargo run --release -p descent-nn --example stop_and_resume`.

use std::path::Path;

use descent::prelude::*;

/// Trains logistic regression on the bundled MNIST subset for up to 3 epochs, stopping as soon
/// as the epoch's running loss falls below 1.0; then resumes the folder to the end. Returns the
/// two summaries.
pub fn run(out: &Path) -> Result<(Summary, Summary), Error> {
    let mut config = TrainConfig::for_problem("mnist-logreg")?;
    (config.epochs, config.threads, config.clip) = (3, 1, Some(Clip::GlobalNorm(5.0)));
    let splits = Splits::load(&config)?;
    let mut trainer = Trainer::new(config, splits)?;
    let mut largest_norm = 0.0f64;
    let stopped = trainer.run_with(Some(out), &mut |event| match event {
        Event::Batch { running_loss, grad_norm, .. } => {
            // Clipping by global norm measures ‖g‖ anyway, so the event carries it for free.
            largest_norm = largest_norm.max(grad_norm.unwrap_or(0.0));
            if running_loss < 1.0 {
                Control::Stop
            } else {
                Control::Continue
            }
        }
        _ => Control::Continue,
    })?;
    println!("stopped after {} updates (largest ‖g‖ so far {largest_norm:.2})", stopped.steps);
    let finished = Trainer::resume(out, None)?.run(Some(out), &mut |_| {})?;
    Ok((stopped, finished))
}

#[allow(dead_code)] // when included by the test suite, only `run` is used
fn main() -> Result<(), Error> {
    let (stopped, finished) = run(Path::new("runs/stop-and-resume"))?;
    let error = finished.final_metrics.map_or(f64::NAN, |m| m.test_error);
    println!("{} updates before the stop, {} in all; test error {:.1}%", stopped.steps, finished.steps, 100.0 * error);
    Ok(())
}
