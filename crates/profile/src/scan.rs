//! The one XML reader behind [`FlatProfile::parse`](crate::FlatProfile::parse),
//! [`lint`](crate::lint) and [`alias`](crate::alias).
//!
//! quick-xml does the tokenizing (tags, attributes, comments, `<? ?>`,
//! CDATA, entity references) with its well-formedness checks relaxed
//! (`check_end_names`, `allow_unmatched_ends`, `allow_dangling_amp`), and
//! this module does the structure itself with an explicit tag stack. That
//! split is deliberate: quick-xml stops at the first ill-formed construct,
//! while a lint has to report every problem in a file with an exact
//! position and a repair hint, and then keep going (R-FMT-5). Because strict
//! parsing and lint share this code, "parse fails" and "lint reports an XML
//! error" can never disagree.
//!
//! Model of a flat profile (R-FMT-1): the root element and every element
//! that holds child elements are *containers* (`<device>`, `<flat-profile>`,
//! or any other wrapper); every other element is a *parameter* whose text
//! is its value.

use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use crate::{schema, Access, Severity};

/// One problem found while reading the XML, at a byte offset.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub offset: usize,
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

/// A parameter element as read, before duplicate removal.
#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    pub name: String,
    /// `/a/b/name`, only filled when the caller asked for paths (aliases).
    pub path: String,
    /// Normalized value (trimmed, newlines folded).
    pub value: String,
    pub access: Option<Access>,
    /// Offset of the `<` of the start tag.
    pub offset: usize,
    /// Offset in the file of the first byte of the value.
    pub value_offset: usize,
    /// True when `value` is a verbatim slice of the file at `value_offset`,
    /// so byte offsets inside the value map 1:1 to file offsets.
    pub value_exact: bool,
    /// Spaces or tabs between the last character and the end tag, on the
    /// same line (`Basic Http Authentication </…>`, R-FMT-5).
    pub trailing_space: bool,
    /// Closed by error recovery rather than by its own end tag.
    pub recovered: bool,
}

/// A container element (wrapper) as read.
#[derive(Debug, Clone)]
pub(crate) struct Container {
    pub name: String,
    pub offset: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub leaves: Vec<Leaf>,
    pub containers: Vec<Container>,
    pub problems: Vec<Problem>,
}

impl Scan {
    /// The first error in reading order: the first thing that went wrong,
    /// which is what a user should fix first (an unclosed element is only
    /// known to be unclosed where the reader noticed it).
    pub(crate) fn first_error(&self) -> Option<&Problem> {
        self.problems.iter().find(|p| p.severity == Severity::Error)
    }
}

#[derive(Debug)]
struct Frame {
    name: String,
    path: String,
    offset: usize,
    access: Option<Access>,
    text: String,
    has_child: bool,
    /// Offset of the first text-like event inside the element.
    text_offset: Option<usize>,
    /// Number of text-like events (text, CDATA, references).
    segments: u32,
    /// Only plain text events (no CDATA, no references).
    plain: bool,
}

/// Whitespace as XML defines it; values are trimmed of these only, so a
/// no-break space typed on purpose survives.
pub(crate) fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Value normalization of R-FMT-3: trim XML whitespace, then fold every run
/// of whitespace that contains a line break into one space (a value split
/// over lines, such as an alias map, reads as one line).
pub(crate) fn normalize_value(raw: &str) -> String {
    let t = raw.trim_matches(is_xml_space);
    if !t.contains(['\n', '\r']) {
        return t.to_string();
    }
    let mut out = String::with_capacity(t.len());
    let mut run = String::new();
    for c in t.chars() {
        if is_xml_space(c) {
            run.push(c);
            continue;
        }
        if !run.is_empty() {
            if run.contains(['\n', '\r']) {
                out.push(' ');
            } else {
                out.push_str(&run);
            }
            run.clear();
        }
        out.push(c);
    }
    out
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == ':'
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

pub(crate) fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if is_name_start(c)) && chars.all(is_name_char)
}

/// Reads `text` and returns everything found; never fails, never panics.
pub(crate) fn scan(text: &str, want_paths: bool) -> Scan {
    let mut s = Scanner {
        stack: Vec::new(),
        out: Scan::default(),
        roots: 0,
        want_paths,
        seen_content: false,
    };
    s.run(text);
    s.out
}

struct Scanner {
    stack: Vec<Frame>,
    out: Scan,
    roots: usize,
    want_paths: bool,
    seen_content: bool,
}

impl Scanner {
    fn problem(
        &mut self,
        offset: usize,
        severity: Severity,
        code: &'static str,
        message: String,
        hint: Option<String>,
    ) {
        self.out.problems.push(Problem {
            offset,
            severity,
            code,
            message,
            hint,
        });
    }

    fn error(&mut self, offset: usize, code: &'static str, message: String, hint: String) {
        self.problem(offset, Severity::Error, code, message, Some(hint));
    }

    fn run(&mut self, text: &str) {
        let mut reader = Reader::from_str(text);
        {
            let cfg = reader.config_mut();
            cfg.check_end_names = false;
            cfg.allow_unmatched_ends = true;
            cfg.allow_dangling_amp = true;
            cfg.check_comments = false;
            cfg.expand_empty_elements = false;
            cfg.trim_text(false);
        }
        loop {
            let offset = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let event = match reader.read_event() {
                Ok(ev) => ev,
                Err(e) => {
                    let at = usize::try_from(reader.error_position()).unwrap_or(offset);
                    self.error(
                        at,
                        "xml-syntax",
                        format!("malformed XML: {e}"),
                        "close the construct that starts here (`>` for a tag, `-->` for a \
                         comment, `?>` for a declaration, `]]>` for CDATA)"
                            .into(),
                    );
                    break;
                }
            };
            let marks_content = match &event {
                Event::Decl(_) => false,
                Event::Text(t) => !t.trim_matches(is_xml_space).is_empty(),
                _ => true,
            };
            match event {
                Event::Start(e) => self.on_start(&e, offset, false),
                Event::Empty(e) => self.on_start(&e, offset, true),
                Event::End(e) => {
                    let name = e.name().0.trim_matches(is_xml_space).to_string();
                    self.on_end(&name, offset);
                }
                Event::Text(e) => self.on_text(&e, offset, true),
                Event::CData(e) => self.on_text(&e, offset, false),
                Event::GeneralRef(e) => self.on_ref(&e, offset),
                Event::Decl(d) => {
                    if self.seen_content {
                        self.problem(
                            offset,
                            Severity::Warning,
                            "xml-decl-position",
                            "the XML declaration `<?xml …?>` is not at the start of the file".into(),
                            Some("move `<?xml version=\"1.0\" encoding=\"UTF-8\"?>` to the first line, or remove it".into()),
                        );
                    }
                    if let Some(Ok(enc)) = d.encoding() {
                        if !enc.eq_ignore_ascii_case("utf-8") && !enc.eq_ignore_ascii_case("utf8") {
                            self.problem(
                                offset,
                                Severity::Warning,
                                "xml-encoding",
                                format!("the declaration says encoding=\"{enc}\" but profiles are read as UTF-8"),
                                Some("save the file as UTF-8 and declare encoding=\"UTF-8\"".into()),
                            );
                        }
                    }
                }
                Event::DocType(_) => self.problem(
                    offset,
                    Severity::Warning,
                    "xml-doctype",
                    "`<!DOCTYPE …>` is ignored: entities it declares are not expanded".into(),
                    Some(
                        "remove the DOCTYPE and write characters directly (the file is UTF-8)"
                            .into(),
                    ),
                ),
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => break,
            }
            self.seen_content |= marks_content;
        }
        while let Some(frame) = self.stack.pop() {
            self.error(
                frame.offset,
                "xml-unclosed",
                format!("`<{}>` is never closed", frame.name),
                format!("add `</{}>` where the element should end", frame.name),
            );
            self.finish(frame, true);
        }
        if self.roots == 0
            && self
                .out
                .problems
                .iter()
                .all(|p| p.severity != Severity::Error)
        {
            self.error(
                text.len(),
                "xml-empty",
                "no element found: the file holds no profile".into(),
                "write the parameters inside `<flat-profile>` … `</flat-profile>`".into(),
            );
        }
    }

    fn on_start(&mut self, e: &BytesStart<'_>, offset: usize, empty: bool) {
        let content: &str = e;
        let full = e.name().0;
        let mut name = full.to_string();
        let mut access = None;
        // `<TLS_Name_Validate_1_ua="na">`: the attribute is glued to the name
        // (R-FMT-5), so the tokenizer sees one long name containing `=`.
        if let Some(eq) = full.find('=') {
            let key_start = full[..eq]
                .char_indices()
                .rev()
                .take_while(|(_, c)| c.is_ascii_alphabetic())
                .last()
                .map_or(eq, |(i, _)| i);
            let real = &full[..key_start];
            let glued = &full[key_start..];
            if !real.is_empty() && key_start < eq {
                let key = &full[key_start..eq];
                self.error(
                    offset + 1 + key_start,
                    "xml-attr-no-space",
                    format!("missing space between the element name `{real}` and the attribute `{glued}`"),
                    format!("write `<{real} {glued}…>` (a space before `{key}=`)"),
                );
                if key == "ua" {
                    let v = glued[eq - key_start + 1..].trim_matches(['"', '\'']);
                    access = self.parse_access(v, offset + 1 + key_start);
                }
                name = real.to_string();
            }
        }
        if !is_valid_name(&name) {
            self.error(
                offset + 1,
                "xml-bad-name",
                format!("`{name}` is not a valid element name"),
                "parameter names use letters, digits and `_` (spaces and punctuation of the \
                 web UI name become `_`, e.g. `User_ID_1_`)"
                    .into(),
            );
        }
        for attr in e.attributes() {
            match attr {
                Ok(a) => {
                    let key = a.key.0;
                    let after = full.len().min(content.len());
                    let at = offset + 1 + content[after..].find(key).map_or(0, |i| after + i);
                    if key == "ua" {
                        access = self.parse_access(&a.value, at);
                    } else {
                        self.problem(
                            at,
                            Severity::Warning,
                            "xml-unknown-attr",
                            format!("attribute `{key}` on `<{name}>` is ignored"),
                            Some("only `ua=\"na|ro|rw\"` has a meaning in a flat profile".into()),
                        );
                    }
                }
                Err(err) => {
                    let pos = match err {
                        AttrError::ExpectedEq(p)
                        | AttrError::ExpectedValue(p)
                        | AttrError::UnquotedValue(p)
                        | AttrError::ExpectedQuote(p, _)
                        | AttrError::Duplicated(p, _) => p,
                    };
                    self.error(
                        offset + 1 + pos.min(content.len()),
                        "xml-bad-attr",
                        format!("malformed attribute in `<{name}>`: {err}"),
                        "attributes are written `name=\"value\"`, separated from the element \
                         name by a space; a literal `<` in a value must be written `&lt;`"
                            .into(),
                    );
                    break;
                }
            }
        }
        match self.stack.last_mut() {
            Some(parent) => parent.has_child = true,
            None => {
                if self.roots > 0 {
                    self.error(
                        offset,
                        "xml-multiple-roots",
                        format!("second top-level element `<{name}>`: an XML file has one root"),
                        "wrap everything in one `<flat-profile>` (optionally inside `<device>`)"
                            .into(),
                    );
                }
                self.roots += 1;
            }
        }
        let path = match (self.want_paths, self.stack.last()) {
            (false, _) => String::new(),
            (true, Some(p)) => format!("{}/{}", p.path, name),
            (true, None) => format!("/{name}"),
        };
        let frame = Frame {
            name,
            path,
            offset,
            access,
            text: String::new(),
            has_child: false,
            text_offset: None,
            segments: 0,
            plain: true,
        };
        if empty {
            self.finish(frame, false);
        } else {
            self.stack.push(frame);
        }
    }

    fn parse_access(&mut self, value: &str, at: usize) -> Option<Access> {
        match Access::from_attr(value) {
            Some(a) => Some(a),
            None => {
                self.error(
                    at,
                    "xml-bad-ua",
                    format!("ua=\"{value}\" is not a known user access"),
                    "use ua=\"na\" (no access), ua=\"ro\" (read-only) or ua=\"rw\" (read-write)"
                        .into(),
                );
                None
            }
        }
    }

    fn on_end(&mut self, name: &str, offset: usize) {
        let Some(top) = self.stack.last() else {
            self.error(
                offset,
                "xml-unmatched-end",
                format!("`</{name}>` closes an element that was never opened"),
                format!("remove `</{name}>` or add the matching `<{name}>` before it"),
            );
            return;
        };
        if top.name == name {
            let frame = self.stack.pop().expect("non-empty stack");
            self.finish(frame, false);
            return;
        }
        if let Some(depth) = self.stack.iter().rposition(|f| f.name == name) {
            // Elements above the match were left open: close them here.
            while self.stack.len() > depth + 1 {
                let frame = self.stack.pop().expect("non-empty stack");
                self.error(
                    frame.offset,
                    "xml-unclosed",
                    format!("`<{}>` is not closed before `</{name}>`", frame.name),
                    format!("add `</{}>` before `</{name}>`", frame.name),
                );
                self.finish(frame, true);
            }
            let frame = self.stack.pop().expect("non-empty stack");
            self.finish(frame, false);
            return;
        }
        // `<Auth_INVITE_1>Yes</Auth_INVITE_1_>` (R-FMT-5): treat the end tag as
        // closing the open element, keeping the name the schema knows.
        let mut frame = self.stack.pop().expect("non-empty stack");
        let (line_hint, keep) = match (
            schema::lookup(&frame.name).is_some(),
            schema::lookup(name).is_some(),
        ) {
            (false, true) => (
                format!("`{name}` is the known parameter name"),
                name.to_string(),
            ),
            (true, false) => (
                format!("`{}` is the known parameter name", frame.name),
                frame.name.clone(),
            ),
            _ => ("make both names the same".to_string(), frame.name.clone()),
        };
        self.error(
            offset,
            "xml-tag-mismatch",
            format!(
                "end tag `</{name}>` does not match the start tag `<{}>`",
                frame.name
            ),
            format!("{line_hint}: write `<{keep}>…</{keep}>`"),
        );
        frame.name = keep;
        self.finish(frame, false);
    }

    fn push_text(&mut self, s: &str, offset: usize, plain: bool) {
        if let Some(top) = self.stack.last_mut() {
            if top.text_offset.is_none() {
                top.text_offset = Some(offset);
            }
            top.segments += 1;
            top.plain &= plain;
            top.text.push_str(s);
        } else if let Some(i) = s.find(|c| !is_xml_space(c)) {
            let what: String = s[i..].chars().take(20).collect();
            self.error(
                offset + i,
                "xml-text-outside",
                format!("text `{what}` outside of any element"),
                "put values inside a parameter element, e.g. `<GPP_A>value</GPP_A>`".into(),
            );
        }
    }

    fn on_text(&mut self, s: &str, offset: usize, plain: bool) {
        // XML 1.0 has no way to hold U+0000, raw or as `&#0;` (which
        // `on_ref` refuses): a NUL accepted here would make a profile whose
        // canonical form does not parse back (found by the xml_parse fuzz
        // target).
        if let Some(i) = s.find('\0') {
            self.error(
                offset + i,
                "xml-char",
                "a NUL character (U+0000) is not allowed in XML".into(),
                "remove it: XML cannot hold U+0000, not even as `&#0;`".into(),
            );
        }
        if plain {
            if let Some(i) = s.find('&') {
                self.error(
                    offset + i,
                    "xml-entity",
                    "a bare `&` is not allowed in XML text".into(),
                    "write `&amp;` for a literal `&`".into(),
                );
            }
        }
        self.push_text(s, offset, plain);
    }

    fn on_ref(&mut self, r: &BytesRef<'_>, offset: usize) {
        let name: &str = r;
        let resolved = if r.is_char_ref() {
            r.resolve_char_ref().ok().flatten()
        } else {
            match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => None,
            }
        };
        match resolved {
            Some(c) => self.push_text(c.encode_utf8(&mut [0; 4]), offset, false),
            None => {
                let (msg, hint) = if r.is_char_ref() {
                    (
                        format!("`&{name};` is not a valid character reference"),
                        "write a Unicode code point in decimal (`&#233;`) or hex (`&#xE9;`)",
                    )
                } else {
                    (
                        format!("unknown entity `&{name};`"),
                        "only `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` and numeric references \
                         are defined; write the character itself (profiles are UTF-8)",
                    )
                };
                self.error(offset, "xml-entity", msg, hint.into());
                self.push_text(&format!("&{name};"), offset, false);
            }
        }
    }

    fn finish(&mut self, frame: Frame, recovered: bool) {
        let is_root = self.stack.is_empty();
        if frame.has_child || is_root {
            if let Some(i) = frame.text.find(|c| !is_xml_space(c)) {
                let what: String = frame.text[i..].chars().take(20).collect();
                let (code, msg, hint) = if frame.has_child {
                    (
                        "xml-mixed-content",
                        format!(
                            "text `{what}` inside `<{}>`, which holds elements",
                            frame.name
                        ),
                        "move the text into a parameter element; a literal `<` in a value \
                         must be written `&lt;`"
                            .to_string(),
                    )
                } else {
                    (
                        "xml-no-wrapper",
                        format!("the root element `<{}>` holds a value", frame.name),
                        format!(
                            "parameters must sit inside a wrapper: \
                             `<flat-profile><{0}>…</{0}></flat-profile>`",
                            frame.name
                        ),
                    )
                };
                self.error(frame.text_offset.unwrap_or(frame.offset), code, msg, hint);
            }
            self.out.containers.push(Container {
                name: frame.name,
                offset: frame.offset,
            });
            return;
        }
        let value = normalize_value(&frame.text);
        let lead = frame.text.len() - frame.text.trim_start_matches(is_xml_space).len();
        let text_start = frame.text_offset.unwrap_or(frame.offset);
        let value_exact = frame.plain
            && frame.segments <= 1
            && value.len() == frame.text.trim_matches(is_xml_space).len();
        let trimmed_end = frame.text.trim_end_matches(is_xml_space);
        let tail = &frame.text[trimmed_end.len()..];
        let trailing_space =
            !trimmed_end.is_empty() && !tail.is_empty() && !tail.contains(['\n', '\r']);
        self.out.leaves.push(Leaf {
            name: frame.name,
            path: frame.path,
            value,
            access: frame.access,
            offset: frame.offset,
            value_offset: if value_exact {
                text_start + lead
            } else {
                text_start
            },
            value_exact,
            trailing_space,
            recovered,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_trims_and_folds_newlines() {
        assert_eq!(normalize_value(" 12345678\n  "), "12345678");
        assert_eq!(normalize_value("a;\n   b"), "a; b");
        assert_eq!(normalize_value("a  b"), "a  b");
        assert_eq!(normalize_value("\u{a0}x\u{a0}"), "\u{a0}x\u{a0}");
    }

    #[test]
    fn names() {
        assert!(is_valid_name("Enable_802.1X_Authentication"));
        assert!(is_valid_name("SIP-number"));
        assert!(!is_valid_name("1abc"));
        assert!(!is_valid_name("a\"b"));
        assert!(!is_valid_name(""));
    }
}
