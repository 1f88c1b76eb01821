//! The IDX format of the MNIST files: a big-endian header (two zero bytes, a type code, the number
//! of dimensions, then each dimension as u32) followed by the values. Gzipped files are read too.

use std::io::Read;
use std::path::Path;

use crate::Error;

/// An IDX array of unsigned bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxBytes {
    /// The dimensions, outermost first (e.g. [60000, 28, 28]).
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub values: Vec<u8>,
}

/// Reads `path` (gzipped or raw), checking the header against `expected_dims` dimensions of u8.
/// A gzipped file is decompressed only as far as its header promises (and one byte more, to
/// notice trailing data), so a small file that inflates without end cannot exhaust memory; the
/// values the header promises must fit in the memory the machine has.
pub fn read_u8(path: &Path, expected_dims: u8) -> Result<IdxBytes, Error> {
    let metadata = std::fs::metadata(path).map_err(|e| Error::data(path, format!("cannot read: {e}")))?;
    if !metadata.is_file() {
        return Err(Error::data(path, "is not a regular file"));
    }
    let raw = std::fs::read(path).map_err(|e| Error::data(path, format!("cannot read: {e}")))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let invalid = |e: std::io::Error| Error::data(path, format!("not a valid gzip file: {e}"));
        let mut decoder = flate2::read::GzDecoder::new(&raw[..]);
        let header = 4 + 4 * expected_dims as usize;
        let mut out = Vec::with_capacity(header);
        (&mut decoder).take(header as u64).read_to_end(&mut out).map_err(invalid)?;
        if let Some(count) = promised_values(&out, expected_dims) {
            crate::files::check_memory(Some(count), "data", &format!("{} values", count))
                .map_err(|e| Error::data(path, e.to_string()))?;
            decoder.take(count + 1).read_to_end(&mut out).map_err(invalid)?;
        }
        out
    } else {
        raw
    };
    parse_u8(&bytes, expected_dims).map_err(|message| Error::data(path, message))
}

/// The number of values a complete header of `expected_dims` dimensions promises.
fn promised_values(header: &[u8], expected_dims: u8) -> Option<u64> {
    let dims = header.get(4..4 + 4 * expected_dims as usize)?;
    dims.chunks_exact(4)
        .try_fold(1u64, |count, d| count.checked_mul(u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as u64))
}

/// Parses IDX bytes; the error says what is wrong (the caller adds the file name).
pub fn parse_u8(bytes: &[u8], expected_dims: u8) -> Result<IdxBytes, String> {
    let expected_magic = 0x0800 | expected_dims as u32;
    let what = if expected_dims == 1 { "labels" } else { "images" };
    if bytes.len() < 4 {
        return Err(format!("truncated: {} bytes, too short for an IDX header", bytes.len()));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if magic != expected_magic {
        return Err(format!(
            "expected magic 0x{expected_magic:08X} (u8 {what}, {expected_dims} dims), found 0x{magic:08X}"
        ));
    }
    let header = 4 + 4 * expected_dims as usize;
    if bytes.len() < header {
        return Err(format!("truncated: the header needs {header} bytes, the file has {}", bytes.len()));
    }
    let dims: Vec<usize> =
        bytes[4..header].chunks_exact(4).map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize).collect();
    let count = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or("dimensions overflow")?;
    let body = bytes.len() - header;
    if body < count {
        return Err(format!("truncated: dimensions {dims:?} need {count} bytes of data, found {body}"));
    }
    if body > count {
        return Err(format!(
            "unexpected bytes ({} or more) after the {count} bytes that dimensions {dims:?} describe",
            body - count
        ));
    }
    Ok(IdxBytes { dims, values: bytes[header..].to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(magic: u32, dims: &[u32], body: usize) -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
        bytes.extend(std::iter::repeat_n(7u8, body));
        bytes
    }

    #[test]
    fn reads_a_well_formed_array() {
        let parsed = parse_u8(&file(0x803, &[2, 3, 4], 24), 3).unwrap();
        assert_eq!(parsed.dims, vec![2, 3, 4]);
        assert_eq!(parsed.values.len(), 24);
    }

    #[test]
    fn names_each_fault() {
        assert_eq!(
            parse_u8(&file(0x903, &[2, 3, 4], 24), 3).unwrap_err(),
            "expected magic 0x00000803 (u8 images, 3 dims), found 0x00000903"
        );
        assert_eq!(
            parse_u8(&file(0x803, &[2, 3, 4], 20), 3).unwrap_err(),
            "truncated: dimensions [2, 3, 4] need 24 bytes of data, found 20"
        );
        assert!(parse_u8(&file(0x801, &[5], 6), 1).unwrap_err().starts_with("unexpected bytes (1 or more)"));
        assert!(parse_u8(&[0, 0, 8], 1).unwrap_err().starts_with("truncated"));
        assert!(parse_u8(&file(0x803, &[2], 0)[..8], 3).unwrap_err().starts_with("truncated: the header"));
    }

    /// A gzipped file whose header promises 10 labels but that inflates to 200 MB of zeros is
    /// refused after 10 values and one more, not decompressed in full.
    #[test]
    fn a_gzip_bomb_is_not_inflated_past_its_header() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.gz");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&file(0x801, &[10], 0)).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..200 {
            encoder.write_all(&zeros).unwrap();
        }
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() < 1 << 20);
        let message = read_u8(&path, 1).unwrap_err().to_string();
        assert!(message.contains("bomb.gz: unexpected bytes (1 or more) after the 10 bytes"), "{message}");
    }
}
