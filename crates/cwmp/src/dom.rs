//! A minimal element tree read with quick-xml's namespace-aware reader.
//!
//! CWMP envelopes are small (kilobytes) and their fields come in any order
//! with any prefix, so the parser first builds a tree keyed by *local* names
//! (prefixes are ignored, as vendors use `soap:`, `SOAP-ENV:`, `soapenv:`,
//! `cwmp:`, `ns1:` or a default namespace), keeping each element's resolved
//! namespace only to detect the CWMP version. Depth and element count are
//! bounded so hostile input cannot exhaust the stack or memory.

use quick_xml::events::{BytesRef, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, XmlVersion};

use crate::SoapError;

/// Deepest element nesting accepted (real envelopes use fewer than 10).
pub(crate) const MAX_DEPTH: usize = 32;
/// Most elements accepted in one envelope (a 10 000-parameter
/// GetParameterValuesResponse uses ~30 000).
pub(crate) const MAX_ELEMENTS: usize = 200_000;

/// One element: local name, namespace URI, attributes by local name, text.
#[derive(Debug, Default)]
pub(crate) struct Element {
    /// Shared between the elements of one namespace (an envelope has two
    /// or three namespaces and dozens of elements).
    pub(crate) ns: Option<std::sync::Arc<str>>,
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) children: Vec<Element>,
    pub(crate) text: String,
}

impl Element {
    /// First child with local name `name`.
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children with local name `name`.
    pub(crate) fn children_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Attribute value by local name (prefix ignored).
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn local(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname)
}

fn resolve_ref(r: &BytesRef<'_>) -> Result<char, SoapError> {
    let name: &str = r;
    let c = if r.is_char_ref() {
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
    c.ok_or_else(|| SoapError::Xml(format!("unknown entity or character reference `&{name};`")))
}

/// U+0000 cannot be written in XML at all (not even as `&#0;`), so it is
/// refused on input; every other character round-trips.
fn no_nul(s: &str) -> Result<&str, SoapError> {
    if s.contains('\0') {
        return Err(SoapError::Xml("NUL character in text".into()));
    }
    Ok(s)
}

/// Parses `text` into its root element.
pub(crate) fn parse(text: &str) -> Result<Element, SoapError> {
    let mut reader = NsReader::from_str(text);
    reader.config_mut().expand_empty_elements = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    let mut namespaces: Vec<std::sync::Arc<str>> = Vec::new();
    loop {
        let read = reader.read_resolved_event();
        let (ns, event) = match read {
            Ok(r) => r,
            Err(e) => {
                let at = reader.error_position();
                return Err(SoapError::Xml(format!("{e} at byte {at}")));
            }
        };
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(SoapError::Xml("content after the root element".into()));
                }
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err(SoapError::TooLarge);
                }
                let ns = match ns {
                    ResolveResult::Bound(n) => {
                        let uri = n.as_ref();
                        match namespaces.iter().find(|k| &***k == uri) {
                            Some(k) => Some(k.clone()),
                            None => {
                                let k: std::sync::Arc<str> = uri.into();
                                namespaces.push(k.clone());
                                Some(k)
                            }
                        }
                    }
                    _ => None,
                };
                let mut attrs = Vec::new();
                for a in start.attributes() {
                    let a = a.map_err(|e| SoapError::Xml(format!("bad attribute: {e}")))?;
                    let value = a
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|e| SoapError::Xml(format!("bad attribute value: {e}")))?;
                    attrs.push((local(a.key.as_ref()).to_string(), value.into_owned()));
                }
                stack.push(Element {
                    ns,
                    name: start.local_name().as_ref().to_string(),
                    attrs,
                    ..Element::default()
                });
            }
            Event::End(_) => {
                let done = stack
                    .pop()
                    .ok_or_else(|| SoapError::Xml("unexpected end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            Event::Text(t) => {
                if let Some(cur) = stack.last_mut() {
                    cur.text.push_str(no_nul(&t.xml10_content())?);
                }
            }
            Event::CData(t) => {
                if let Some(cur) = stack.last_mut() {
                    cur.text.push_str(no_nul(&t.xml10_content())?);
                }
            }
            Event::GeneralRef(r) => {
                let c = resolve_ref(&r)?;
                if let Some(cur) = stack.last_mut() {
                    cur.text.push(c);
                }
            }
            Event::Empty(_) => unreachable!("expand_empty_elements is set"),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(SoapError::Xml(format!(
            "the document ends inside `<{}>` (truncated body?)",
            stack.last().map(|e| e.name.as_str()).unwrap_or_default()
        )));
    }
    root.ok_or_else(|| SoapError::Xml("no root element".into()))
}
