//! A CSV reader for users' own data: numeric feature columns followed by an integer class label in
//! the last column; an optional header row (detected when its last field is not a number).

use std::path::Path;

use super::Dataset;
use crate::Error;

/// Reads `path` into a data set; the number of classes is the largest label plus one.
pub fn read(path: &Path) -> Result<Dataset, Error> {
    // A CSV file of data may be large, but not larger than memory can hold as text and numbers.
    let limit = crate::files::available_memory().map_or(u64::MAX, |bytes| bytes / 3);
    let text = crate::files::read_text(path, limit, true)?;
    parse(&text).map_err(|message| Error::data(path, message))
}

/// Parses CSV text; the error names the line and column at fault.
pub fn parse(text: &str) -> Result<Dataset, String> {
    let mut inputs = Vec::new();
    let mut labels = Vec::new();
    let mut width = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let last = fields[fields.len() - 1];
        if index == 0 && last.parse::<f64>().is_err() {
            continue; // a header
        }
        if fields.len() < 2 {
            return Err(format!("line {number}: expected features and a label, found one field"));
        }
        match width {
            None => width = Some(fields.len()),
            Some(w) if w != fields.len() => {
                return Err(format!("line {number}: expected {w} fields like the first row, found {}", fields.len()))
            }
            _ => {}
        }
        for (column, field) in fields[..fields.len() - 1].iter().enumerate() {
            let value: f32 = field
                .parse()
                .map_err(|_| format!("line {number}, column {}: '{field}' is not a number", column + 1))?;
            if !value.is_finite() {
                return Err(format!("line {number}, column {}: '{field}' is not finite", column + 1));
            }
            inputs.push(value);
        }
        let label: u32 = last.parse().map_err(|_| {
            format!("line {number}, column {}: label '{last}' is not a whole number >= 0", fields.len())
        })?;
        labels.push(label);
    }
    let width = width.ok_or("no data rows")?;
    let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    Dataset::new(inputs, labels, width - 1, classes.max(2)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_features_and_labels_with_or_without_header() {
        let data = parse("a,b,label\n0.5,1,0\n2,3.5,2\n").unwrap();
        assert_eq!((data.len(), data.dim, data.classes), (2, 2, 3));
        assert_eq!(data.inputs, vec![0.5, 1.0, 2.0, 3.5]);
        assert_eq!(parse("1,2,1\n").unwrap().labels, vec![1]);
    }

    #[test]
    fn names_ragged_rows_and_bad_cells() {
        assert_eq!(parse("1,2,0\n1,0\n").unwrap_err(), "line 2: expected 3 fields like the first row, found 2");
        assert_eq!(parse("1,x,0\n").unwrap_err(), "line 1, column 2: 'x' is not a number");
        assert_eq!(parse("1,2,0\n1,2,-1\n").unwrap_err(), "line 2, column 3: label '-1' is not a whole number >= 0");
        assert_eq!(parse("h1,h2\n").unwrap_err(), "no data rows");
    }
}
