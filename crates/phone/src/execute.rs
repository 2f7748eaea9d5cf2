//! The Cisco XML `Execute` object (R-RULE-6):
//! `<CP-xxxx-3PCCExecute><ExecuteItem URL="Resync:RULE"/></CP-xxxx-3PCCExecute>`
//! sent by SIP NOTIFY or HTTP POST to `/CGI/Execute`. Parsed with
//! quick-xml; the driver turns the items into [`Input`]s
//! with [`ExecuteItem::to_input`].

use crate::types::Input;
use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};

/// One `<ExecuteItem URL="..." [Priority="..."]/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecuteItem {
    pub url: String,
    pub priority: Option<String>,
}

/// What an item asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecuteCommand {
    /// `Resync` or `Resync:RULE`.
    Resync(Option<String>),
    /// `Upgrade:URL`.
    Upgrade(String),
    /// Anything else (`Key:…`, `Init:…`): not handled by the engine.
    Other(String),
}

/// Errors of [`parse_execute_xml`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecuteError {
    #[error("the Execute object is not well-formed XML: {0}; send `<CP-xxxx-3PCCExecute><ExecuteItem URL=\"Resync:RULE\"/></CP-xxxx-3PCCExecute>`")]
    Xml(String),
    #[error(
        "the root element is `{0}`, expected one ending in `Execute` (e.g. `CP-8841-3PCCExecute`)"
    )]
    WrongRoot(String),
    #[error("an ExecuteItem has no URL attribute; write `<ExecuteItem URL=\"Resync:RULE\"/>`")]
    MissingUrl,
}

impl ExecuteItem {
    /// Splits `Resync:RULE` / `Upgrade:URL` (case-insensitive command).
    pub fn command(&self) -> ExecuteCommand {
        let (cmd, arg) = match self.url.split_once(':') {
            Some((c, a)) => (c, Some(a.trim())),
            None => (self.url.as_str(), None),
        };
        match cmd.trim().to_ascii_lowercase().as_str() {
            "resync" => ExecuteCommand::Resync(arg.filter(|a| !a.is_empty()).map(str::to_string)),
            "upgrade" if arg.is_some_and(|a| !a.is_empty()) => {
                ExecuteCommand::Upgrade(arg.unwrap_or_default().to_string())
            }
            _ => ExecuteCommand::Other(self.url.clone()),
        }
    }

    /// The engine input for this item; `None` for commands it does not
    /// handle. `from_host` is the sender (default server of the rule).
    pub fn to_input(&self, from_host: Option<&str>) -> Option<Input> {
        match self.command() {
            ExecuteCommand::Resync(rule) => Some(Input::ResyncNow {
                rule,
                from_host: from_host.map(str::to_string),
            }),
            ExecuteCommand::Upgrade(url) => Some(Input::UpgradeNow { url }),
            ExecuteCommand::Other(_) => None,
        }
    }
}

/// Parses an Execute object into its items, in order.
pub fn parse_execute_xml(body: &str) -> Result<Vec<ExecuteItem>, ExecuteError> {
    let mut reader = Reader::from_str(body);
    reader.config_mut().trim_text(true);
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut saw_root = false;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| ExecuteError::Xml(format!("at byte {}: {e}", reader.buffer_position())))?;
        let (start, empty) = match &ev {
            Event::Start(s) => (Some(s.clone()), false),
            Event::Empty(s) => (Some(s.clone()), true),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                (None, false)
            }
            Event::Eof => break,
            _ => (None, false),
        };
        let Some(s) = start else { continue };
        let name = s.name().as_ref().to_string();
        if depth == 0 {
            if saw_root || !name.ends_with("Execute") {
                return Err(ExecuteError::WrongRoot(name));
            }
            saw_root = true;
        } else if name == "ExecuteItem" {
            let mut url = None;
            let mut priority = None;
            for a in s.attributes() {
                let a = a.map_err(|e| ExecuteError::Xml(e.to_string()))?;
                let v = a
                    .normalized_value(XmlVersion::Implicit1_0)
                    .map_err(|e| ExecuteError::Xml(e.to_string()))?
                    .into_owned();
                match a.key.as_ref() {
                    "URL" => url = Some(v),
                    "Priority" => priority = Some(v),
                    _ => {}
                }
            }
            items.push(ExecuteItem {
                url: url.ok_or(ExecuteError::MissingUrl)?,
                priority,
            });
        }
        if !empty {
            depth += 1;
        }
    }
    if !saw_root {
        return Err(ExecuteError::Xml("the document is empty".into()));
    }
    if depth != 0 {
        return Err(ExecuteError::Xml("unclosed element".into()));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_rule_6_execute_object() {
        let xml = r#"<CP-8841-3PCCExecute>
  <ExecuteItem Priority="0" URL="Resync:[--key k] http://prov.example/$MA.xml"/>
  <ExecuteItem URL="Resync"/>
  <ExecuteItem URL="Upgrade:http://s/fw.loads"/>
  <ExecuteItem URL="Key:Services"/>
</CP-8841-3PCCExecute>"#;
        let items = parse_execute_xml(xml).unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[0].priority.as_deref(), Some("0"));
        assert_eq!(
            items[0].command(),
            ExecuteCommand::Resync(Some("[--key k] http://prov.example/$MA.xml".into()))
        );
        assert_eq!(items[1].command(), ExecuteCommand::Resync(None));
        assert_eq!(
            items[2].to_input(None),
            Some(Input::UpgradeNow {
                url: "http://s/fw.loads".into()
            })
        );
        assert_eq!(items[3].to_input(None), None);
        assert!(matches!(
            parse_execute_xml("<Foo/>"),
            Err(ExecuteError::WrongRoot(_))
        ));
        assert!(matches!(
            parse_execute_xml("<XExecute><ExecuteItem/></XExecute>"),
            Err(ExecuteError::MissingUrl)
        ));
        assert!(parse_execute_xml("<XExecute><ExecuteItem URL='a'>").is_err());
        assert!(parse_execute_xml("").is_err());
    }
}
