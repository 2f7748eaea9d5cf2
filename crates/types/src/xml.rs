//! The one XML escaper: profiles rendered from templates, the flat profiles
//! the `profile` crate prints, CWMP SOAP text and the `ExecuteItem`
//! attribute of a push all go through [`escape`].
//!
//! Hand-written (a match over characters): `quick_xml::escape` covers the
//! five markup characters only, and two contexts need more. A control
//! character other than tab/newline is not written raw (most parsers refuse
//! it): it becomes a character reference, which our parsers read back, so
//! any string survives a write/read round trip. In an attribute, tab,
//! newline and carriage return become references too, since attribute
//! value normalisation would turn them into spaces; in text they stay as
//! they are (a carriage return still becomes `&#13;`, because parsers
//! fold a raw one into a newline).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Where the escaped string goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XmlContext {
    /// Element content, or a value whose place is not known (template
    /// values): the five markup characters `& < > " '` are escaped.
    Text,
    /// A quoted attribute value: tab, newline and carriage return are
    /// escaped as well.
    Attr,
}

/// Escapes `s` for `ctx`; borrows when nothing needs escaping.
pub fn escape(s: &str, ctx: XmlContext) -> Cow<'_, str> {
    let attr = ctx == XmlContext::Attr;
    let needs = |c: char| match c {
        '&' | '<' | '>' | '"' | '\'' => true,
        '\n' | '\t' => attr,
        c => (c as u32) < 0x20 || c == '\u{7f}',
    };
    let Some(first) = s.find(needs) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if needs(c) => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use XmlContext::{Attr, Text};

    #[test]
    fn text_escapes_markup_and_controls_only() {
        assert!(matches!(escape("plain é", Text), Cow::Borrowed(_)));
        assert_eq!(
            escape("a&b<c>d \"q\" 'a'\tx\ny\rz\u{1}", Text),
            "a&amp;b&lt;c&gt;d &quot;q&quot; &apos;a&apos;\tx\ny&#13;z&#1;"
        );
    }

    #[test]
    fn attr_escapes_quotes_and_whitespace_controls() {
        assert!(matches!(escape("plain", Attr), Cow::Borrowed(_)));
        assert_eq!(
            escape("a&\"b'<>\t\n\r\u{7f}", Attr),
            "a&amp;&quot;b&apos;&lt;&gt;&#9;&#10;&#13;&#127;"
        );
    }
}
