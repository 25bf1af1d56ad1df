//! The little-endian, length-prefixed encoding the key index and its cached verdicts are
//! written in: a writer for strings, and a bounds-checked reader.

/// Appends `s` as a 4-byte little-endian length and its bytes.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A cursor over encoded bytes; every read is bounds-checked (`None` past the end).
pub struct Cursor<'a>(pub &'a [u8]);

impl<'a> Cursor<'a> {
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
    /// A count, then that many strings (the count bounded by what is left).
    pub fn strs(&mut self) -> Option<Vec<String>> {
        let n = self.u32()? as usize;
        (0..n.min(self.0.len()))
            .map(|_| self.str().map(str::to_string))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip_and_short_input_is_none() {
        let mut out = Vec::new();
        out.extend_from_slice(&2u32.to_le_bytes());
        put_str(&mut out, "a@x");
        put_str(&mut out, "");
        let mut c = Cursor(&out);
        assert_eq!(c.strs().unwrap(), ["a@x", ""]);
        assert!(c.0.is_empty());
        assert!(Cursor(&out[..5]).strs().is_none());
        assert!(Cursor(&[1, 0, 0]).u32().is_none());
    }
}
