//! netascii conversion (RFC 1350 §5, RFC 764): LF ↔ CR LF, CR ↔ CR NUL.
//!
//! The sender converts while content is pushed (the mapping is per byte), the
//! receiver carries one pending CR across packet boundaries.

/// Appends `input` converted to netascii to `out`.
pub fn encode_into(input: &[u8], out: &mut Vec<u8>) {
    out.reserve(input.len() + input.len() / 16);
    for &b in input {
        match b {
            b'\n' => out.extend_from_slice(b"\r\n"),
            b'\r' => out.extend_from_slice(b"\r\0"),
            _ => out.push(b),
        }
    }
}

/// Streaming netascii → local text decoder.
#[derive(Debug, Default, Clone)]
pub struct Decoder {
    pending_cr: bool,
}

impl Decoder {
    /// Decodes one chunk, appending to `out`.
    pub fn decode_into(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.pending_cr {
                self.pending_cr = false;
                match b {
                    b'\n' => out.push(b'\n'),
                    0 => out.push(b'\r'),
                    // Lenient: a bare CR from a sloppy peer is kept.
                    b'\r' => {
                        out.push(b'\r');
                        self.pending_cr = true;
                    }
                    _ => {
                        out.push(b'\r');
                        out.push(b);
                    }
                }
            } else if b == b'\r' {
                self.pending_cr = true;
            } else {
                out.push(b);
            }
        }
    }

    /// Flushes a CR left at the very end of the transfer.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            out.push(b'\r');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_split_anywhere() {
        let text = b"line1\nline2\r\nbare\rcr\n\r";
        let mut wire = Vec::new();
        encode_into(text, &mut wire);
        assert_eq!(&wire[..7], b"line1\r\n");
        for split in 0..wire.len() {
            let mut d = Decoder::default();
            let mut out = Vec::new();
            d.decode_into(&wire[..split], &mut out);
            d.decode_into(&wire[split..], &mut out);
            d.finish(&mut out);
            assert_eq!(out, text, "split at {split}");
        }
    }
}
