//! Byte offset → 1-based line/column conversion.
//!
//! Diagnostics must point at the exact spot an editor shows, so columns are
//! counted in Unicode scalar values (characters), not bytes: a Korean `예`
//! is one column, as in every editor. Lines are split on `\n` (a `\r\n` pair
//! ends a line at the `\n`, so the `\r` is the last column of its line).

/// Precomputed start offsets of every line of a text.
#[derive(Debug, Clone)]
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    /// 1-based (line, column) of byte `offset`; offsets past the end or
    /// inside a multi-byte character are clamped to a valid position.
    pub(crate) fn line_col(&self, offset: usize) -> (u32, u32) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let col = self.text[self.starts[line]..offset].chars().count() + 1;
        (
            u32::try_from(line + 1).unwrap_or(u32::MAX),
            u32::try_from(col).unwrap_or(u32::MAX),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_position_is_one_one() {
        let idx = LineIndex::new("ab\ncd");
        assert_eq!(idx.line_col(0), (1, 1));
        assert_eq!(idx.line_col(1), (1, 2));
        assert_eq!(idx.line_col(3), (2, 1));
        assert_eq!(idx.line_col(5), (2, 3));
        assert_eq!(idx.line_col(99), (2, 3));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let idx = LineIndex::new("<a>예x</a>");
        // `x` is at byte 6 but character column 5.
        assert_eq!(idx.line_col(6), (1, 5));
        // An offset inside `예` is clamped to its start.
        assert_eq!(idx.line_col(4), (1, 4));
    }
}
