//! Plain-text tables for the terminal.

/// Renders rows under a header with columns padded to their widest cell; numeric-looking cells are
/// right-aligned.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .chain([header[column].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let numeric = |cell: &str| cell.parse::<f64>().is_ok() || cell.ends_with('%');
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| if numeric(cell) { format!("{cell:>width$}") } else { format!("{cell:<width$}") })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    out.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// A number in at most `digits` significant digits, switching to exponent form when small or large.
pub fn number(value: f64, digits: usize) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value != 0.0 && (value.abs() < 1e-3 || value.abs() >= 1e6) {
        format!("{value:.prec$e}", prec = digits.saturating_sub(1))
    } else {
        let magnitude = if value == 0.0 { 0 } else { value.abs().log10().floor() as i32 };
        let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
        let text = format!("{value:.decimals$}");
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_significant_digits() {
        assert_eq!(number(0.019, 3), "0.019");
        assert_eq!(number(0.001, 3), "0.001");
        assert_eq!(number(12.3456, 4), "12.35");
        assert_eq!(number(5.233e-4, 4), "5.233e-4");
        assert_eq!(number(0.0, 3), "0");
        assert_eq!(number(250.0, 3), "250");
    }

    #[test]
    fn columns_are_aligned() {
        let text =
            render(&["name", "value"], &[vec!["sgd".into(), "1.5".into()], vec!["momentum".into(), "10".into()]]);
        assert_eq!(text, "name      value\n--------  -----\nsgd         1.5\nmomentum     10\n");
    }
}
