//! Percent-encoding, shared by subject tokens and Copr build URLs.

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Writes every byte for which `keep` is false as `%XX` (uppercase hex).
pub(crate) fn encode(raw: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
    out
}

/// Keeps RFC 3986's unreserved characters: a URL path segment.
pub(crate) fn url_segment(raw: &str) -> String {
    encode(raw, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_bytes_not_kept() {
        assert_eq!(url_segment("a b/é~"), "a%20b%2F%C3%A9~");
        assert_eq!(encode("a.b", |b| b != b'.'), "a%2Eb");
    }
}
