//! Kubernetes resource quantities (`32Mi`, `100m`, `1.5`), as far as limits need them.

/// Bytes of a memory quantity: `128974848`, `129e6`, `129M`, `123Mi`, `1G`, `1Gi`, `500k`.
pub fn bytes(q: &str) -> Result<i64, String> {
    let q = q.trim();
    let split = q
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let factor: f64 = match suffix {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "m" => 1e-3,
        other => {
            return Err(format!(
                "`{q}`: unknown suffix `{other}` (use Ki, Mi, Gi, k, M, G)"
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{q}` is not a quantity (e.g. 64Mi)"))?;
    let total = (value * factor).ceil();
    if !(0.0..9.2e18).contains(&total) {
        return Err(format!("`{q}` is out of range"));
    }
    Ok(total as i64)
}

/// Thousandths of a CPU: `100m` → 100, `0.5` → 500, `2` → 2000.
pub fn millicores(q: &str) -> Result<i64, String> {
    let q = q.trim();
    let value = match q.strip_suffix('m') {
        Some(m) => m
            .parse::<f64>()
            .map_err(|_| format!("`{q}` is not a CPU quantity (e.g. 100m or 0.5)"))?,
        None => {
            q.parse::<f64>()
                .map_err(|_| format!("`{q}` is not a CPU quantity (e.g. 100m or 0.5)"))?
                * 1000.0
        }
    };
    if !(0.0..9.2e15).contains(&value) {
        return Err(format!("`{q}` is out of range"));
    }
    Ok(value.ceil() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_and_cpu() {
        assert_eq!(bytes("32Mi"), Ok(32 << 20));
        assert_eq!(bytes("1G"), Ok(1_000_000_000));
        assert_eq!(bytes("129e6"), Ok(129_000_000));
        assert_eq!(bytes("1024"), Ok(1024));
        assert!(bytes("12Q").is_err());
        assert!(bytes("lots").is_err());
        assert_eq!(millicores("100m"), Ok(100));
        assert_eq!(millicores("0.5"), Ok(500));
        assert_eq!(millicores("2"), Ok(2000));
        assert!(millicores("fast").is_err());
    }
}
