//! Kubernetes resource quantities ("250m", "1", "512Mi", "1Gi", "1G") and byte sizes ("16MB"),
//! parsed just far enough to compare them; emitters always write the user's own spelling.

/// A quantity in milli-units (so "250m" CPU is 250 and "1" is 1000; "1Ki" memory is 1_024_000).
pub fn parse_quantity(s: &str) -> Option<u128> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    if num.is_empty() {
        return None;
    }
    let mult: f64 = match suffix {
        "" => 1.0,
        "m" => 0.001,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        _ => return None,
    };
    let n: f64 = num.parse().ok()?;
    let milli = n * mult * 1000.0;
    if !milli.is_finite() || milli > u128::MAX as f64 {
        return None;
    }
    Some(milli.round() as u128)
}

/// A byte size as PostgreSQL writes it ("16MB", "1GB", "8kB") or a bare number of bytes.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match suffix.trim() {
        "" | "B" => 1,
        "kB" | "KB" | "k" => 1 << 10,
        "MB" | "M" => 1 << 20,
        "GB" | "G" => 1 << 30,
        "TB" | "T" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_compare_across_suffixes() {
        assert_eq!(parse_quantity("250m"), Some(250));
        assert_eq!(parse_quantity("1"), Some(1000));
        assert!(parse_quantity("1Gi") > parse_quantity("512Mi"));
        assert!(parse_quantity("1G") < parse_quantity("1Gi"));
        assert_eq!(parse_quantity("0.5"), Some(500));
        assert_eq!(parse_quantity("fast"), None);
        assert_eq!(parse_quantity("10Xi"), None);
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("16MB"), Some(16 << 20));
        assert_eq!(parse_bytes("1048576"), Some(1 << 20));
        assert_eq!(parse_bytes("ten"), None);
    }
}
