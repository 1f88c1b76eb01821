//! Where the ticks go and what they say, and which interval an axis shows: pure functions of
//! the numbers, so that every figure reads the same way.
//!
//! - Linear axes step by 1, 2 or 5 times a power of ten; a label has the decimals of the step
//!   and no exponent ("15000", or "150k" from 100 000 up), never "2e4".
//! - Log axes (values are log₁₀ of the data) tick at whole decades labelled "10ⁿ", or, when the
//!   interval holds fewer than three, at 1, 2 and 5 times a power of ten labelled plainly ("20"),
//!   or where even those are fewer than three, at a linear 1-2-5 step.
//! - Percent axes are linear axes whose labels end in "%".

/// An axis interval taking in `view` and every value of `data` (non-finite ones ignored),
/// widened by `pad` of its span on each side that data reach, so that no line runs into the
/// frame; a view's lower end that no value passes is kept (an error axis starting at 0).
pub fn cover(view: (f64, f64), data: impl IntoIterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (mut low, mut high) = if view.0.is_finite() && view.1.is_finite() && view.1 >= view.0 {
        (view.0, view.1)
    } else {
        (f64::INFINITY, f64::NEG_INFINITY)
    };
    let mut extended = (false, false);
    for value in data.into_iter().filter(|v| v.is_finite()) {
        if value < low {
            low = value;
            extended.0 = true;
        }
        if value >= high {
            high = value;
            extended.1 = true;
        }
    }
    if !(low.is_finite() && high.is_finite()) {
        return (0.0, 1.0);
    }
    if high - low < 1e-12 * low.abs().max(1.0) {
        let half = 0.5 * low.abs().max(1e-3);
        return (low - half, high + half);
    }
    // Only the sides the data reach get the pad: the caller's view is kept as given.
    let span = high - low;
    (if extended.0 { low - pad * span } else { low }, if extended.1 { high + pad * span } else { high })
}

/// The 1-2-5 step for about `count` ticks over `span`: the smallest of 1, 2, 5 × 10ᵏ that gives
/// at most `count` intervals.
pub fn step_125(span: f64, count: usize) -> f64 {
    let raw = span / count.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw * (1.0 - 1e-9)).unwrap_or(10.0 * magnitude)
}

/// Ticks of a linear axis over `(low, high)`: multiples of a 1-2-5 step, at most `count + 1`,
/// each labelled plainly (with `suffix`, such as "%").
pub fn linear((low, high): (f64, f64), count: usize, suffix: &str) -> Vec<(f64, String)> {
    if !(low.is_finite() && high.is_finite()) || high <= low {
        return Vec::new();
    }
    let step = step_125(high - low, count);
    let first = (low / step - 1e-9).ceil() as i64;
    let last = (high / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|i| {
            let value = i as f64 * step;
            (value, format!("{}{suffix}", plain(value, step)))
        })
        .collect()
}

/// Ticks of a log axis whose values are log₁₀ of the data, over `(low, high)` in those values.
pub fn log((low, high): (f64, f64), count: usize) -> Vec<(f64, String)> {
    if !(low.is_finite() && high.is_finite()) || high <= low {
        return Vec::new();
    }
    let (first, last) = ((low - 1e-9).ceil() as i64, (high + 1e-9).floor() as i64);
    if last - first >= 2 {
        // Whole decades, every one or every 2nd, 5th, 10th... so that at most count + 1 show.
        let stride = step_125((last - first) as f64, count).max(1.0) as i64;
        return (first..=last).filter(|d| d.rem_euclid(stride) == 0).map(|d| (d as f64, power_of_ten(d))).collect();
    }
    // Fewer than three decades: 1, 2 and 5 times a power of ten, plainly, then a linear step.
    let mut ticks = Vec::new();
    for decade in (low.floor() as i64)..=(high.ceil() as i64) {
        for mantissa in [1.0, 2.0, 5.0] {
            let value = mantissa * 10f64.powi(decade as i32);
            let at = value.log10();
            if at >= low - 1e-9 && at <= high + 1e-9 {
                ticks.push((at, plain(value, value)));
            }
        }
    }
    if ticks.len() >= 3 {
        return ticks;
    }
    let (a, b) = (10f64.powf(low), 10f64.powf(high));
    let step = step_125(b - a, count.max(6));
    let first = (a / step - 1e-9).ceil() as i64;
    let last = (b / step + 1e-9).floor() as i64;
    (first..=last).filter(|i| *i > 0).map(|i| ((i as f64 * step).log10(), plain(i as f64 * step, step))).collect()
}

/// "10ⁿ" with the exponent in superscript digits.
pub fn power_of_ten(exponent: i64) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut text = String::from("10");
    if exponent < 0 {
        text.push('⁻');
    }
    for digit in exponent.unsigned_abs().to_string().bytes() {
        text.push(DIGITS[(digit - b'0') as usize]);
    }
    text
}

/// `value` written with as many decimals as `step` needs and no exponent: 15000 → "15000",
/// 150000 → "150k", 2500000 → "2.5M", 0.0005 → "0.0005"; below 10⁻⁶ as "5×10⁻⁷".
pub fn plain(value: f64, step: f64) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let step = step.abs();
    if step < 1e-6 {
        let exponent = value.abs().log10().floor() as i64;
        let mantissa = value / 10f64.powi(exponent as i32);
        let digits = decimals(step / 10f64.powi(exponent as i32));
        return format!("{}×{}", trimmed(mantissa, digits), power_of_ten(exponent));
    }
    // From 100 000 up, thousands and millions (below that the digits read at a glance).
    for (from, unit, suffix) in [(1e6, 1e6, "M"), (1e5, 1e3, "k")] {
        if value.abs() >= from && step >= unit / 10.0 {
            return format!("{}{suffix}", trimmed(value / unit, decimals(step / unit)));
        }
    }
    trimmed(value, decimals(step))
}

/// Decimals a multiple of `step` needs: 0.05 → 2, 0.2 → 1, 20 → 0.
fn decimals(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        // The mantissa of a 1-2-5 step is 1, 2 or 5; others get one more digit.
        let digits = (-step.log10() - 1e-9).ceil() as usize;
        let scaled = step * 10f64.powi(digits as i32);
        if (scaled - scaled.round()).abs() < 1e-6 {
            digits
        } else {
            digits + 1
        }
    }
}

fn trimmed(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text };
    if text == "-0" {
        "0".into()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(ticks: &[(f64, String)]) -> Vec<f64> {
        ticks.iter().map(|t| t.0).collect()
    }

    fn labels(ticks: &[(f64, String)]) -> Vec<&str> {
        ticks.iter().map(|t| t.1.as_str()).collect()
    }

    #[test]
    fn linear_steps_are_one_two_or_five_times_a_power_of_ten() {
        // Span 4 over 6: raw 0.67, the next of {1, 2, 5}·10⁻¹·… at or above it is 1.
        assert_eq!(values(&linear((-2.0, 2.0), 6, "")), vec![-2.0, -1.0, 0.0, 1.0, 2.0]);
        // Span 95 over 5: raw 19 → 20.
        assert_eq!(values(&linear((0.0, 95.0), 5, "")), vec![0.0, 20.0, 40.0, 60.0, 80.0]);
        // Span 0.28 over 6: raw 0.047 → 0.05, labels with two decimals and no trailing zeros.
        assert_eq!(labels(&linear((0.1, 0.38), 6, "")), vec!["0.1", "0.15", "0.2", "0.25", "0.3", "0.35"]);
        // Span 11 over 5: raw 2.2 → 5 (a 2.5 step would have come first).
        assert_eq!(values(&linear((0.0, 11.0), 5, "")), vec![0.0, 5.0, 10.0]);
        for (span, count) in [(7.3, 6), (0.013, 5), (123456.0, 7), (3e-5, 4), (11.0, 5), (0.22, 5)] {
            let step = step_125(span, count);
            let mantissa = step / 10f64.powf(step.log10().floor());
            assert!([1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-9), "{span}: step {step}");
            assert!(span / step <= count as f64 + 1e-9 && span / step > count as f64 / 5.0 - 1e-9, "{span}");
        }
        assert!(linear((1.0, 1.0), 5, "").is_empty());
    }

    #[test]
    fn large_numbers_read_plainly_never_in_exponent_form() {
        // sweep.svg's throughput axis: 0 to 17000 examples/s over 6 → step 5000 (raw 2833).
        assert_eq!(labels(&linear((0.0, 17000.0), 6, "")), vec!["0", "5000", "10000", "15000"]);
        assert_eq!(plain(150_000.0, 50_000.0), "150k");
        assert_eq!(plain(2_500_000.0, 500_000.0), "2.5M");
        assert_eq!(plain(0.0005, 0.0001), "0.0005");
        assert_eq!(plain(5e-7, 1e-7), "5×10⁻⁷");
        for tick in linear((0.0, 3.3e5), 6, "") {
            assert!(!tick.1.contains('e'), "{}", tick.1);
        }
    }

    #[test]
    fn log_axes_tick_decades_as_powers_of_ten() {
        // log₁₀ values from 10^-3.2 to 10^1.5: decades -3 to 1.
        assert_eq!(labels(&log((-3.2, 1.5), 6)), vec!["10⁻³", "10⁻²", "10⁻¹", "10⁰", "10¹"]);
        // Twelve decades over 6 ticks: every 2nd.
        assert_eq!(values(&log((-10.5, 1.2), 6)), vec![-10.0, -8.0, -6.0, -4.0, -2.0, 0.0]);
        // Under two decades (6.3 to 16, the "6.3e0, 1.6e1" of the issue): 1-2-5 ticks, plainly.
        // 3 to 60 holds 5, 10, 20 and 50.
        let narrow = log((3.0f64.log10(), 60f64.log10()), 6);
        assert_eq!(labels(&narrow), vec!["5", "10", "20", "50"]);
        assert!((narrow[2].0 - 20f64.log10()).abs() < 1e-12);
        // Two decades (0.0025 to 0.11, time_grads' range): 1-2-5 ticks, plainly.
        let two = log((0.0025f64.log10(), 0.11f64.log10()), 4);
        assert_eq!(labels(&two), vec!["0.005", "0.01", "0.02", "0.05", "0.1"]);
        // 0.305 to 1.343 (diagnose's ‖g‖ panel) holds only 0.5 and 1: a linear step of 0.2
        // (raw 1.04 / 6 = 0.17).
        let short = log((0.305f64.log10(), 1.343f64.log10()), 4);
        assert_eq!(labels(&short), vec!["0.4", "0.6", "0.8", "1", "1.2"]);
        // 6.3 to 16 holds only 10 of those: a linear step of 2 (raw 9.7 / 6 = 1.6), at its logarithm.
        let narrower = log((6.3f64.log10(), 16f64.log10()), 6);
        assert_eq!(labels(&narrower), vec!["8", "10", "12", "14", "16"]);
        assert!((narrower[0].0 - 8f64.log10()).abs() < 1e-12);
    }

    #[test]
    fn percent_ticks_carry_the_sign() {
        assert_eq!(labels(&linear((0.0, 12.0), 6, "%")), vec!["0%", "2%", "4%", "6%", "8%", "10%", "12%"]);
    }

    #[test]
    fn the_interval_covers_every_value_and_pads_only_where_data_pushed() {
        // The case: a 1.8 frame and a first-epoch loss of 2.28.
        let (low, high) = cover((0.0, 1.8), [0.3, 2.28, f64::NAN, 1.1], 0.05);
        assert_eq!(low, 0.0);
        assert!((high - (2.28 + 0.05 * 2.28)).abs() < 1e-12);
        // Inside the view: the view as given.
        assert_eq!(cover((-1.0, 1.0), [0.5, -0.5], 0.05), (-1.0, 1.0));
        // A curve ending at the view's right end (x_max taken from the data) gets the pad there.
        assert_eq!(cover((0.0, 2.0), [0.0, 2.0], 0.05), (0.0, 2.1));
        // No view and one value: an interval around it.
        let (low, high) = cover((f64::NAN, f64::NAN), [3.0], 0.05);
        assert!(low < 3.0 && high > 3.0);
        assert_eq!(cover((f64::NAN, f64::NAN), [f64::INFINITY], 0.05), (0.0, 1.0));
    }
}
