//! The values macros expand to (R-MACRO), and the default server a rule
//! without a server falls back to (R-RULE-1).
//!
//! A plain name → value map: the phone engine fills it from its identity and
//! parameters, the CLI from flags. GPPs are stored under their macro names
//! (`A`..`P`, `SA`..`SD`) so that `$A` finds `GPP_A` directly.

use crate::error::RuleError;
use crate::url::ResolvedUrl;
use phoneprov_types::Mac;
use std::collections::BTreeMap;

/// Macro values and the default server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MacroContext {
    vars: BTreeMap<String, String>,
    default_server: Option<String>,
}

/// Normalises `a`, `A`, `GPP_A`, `gpp_a`, `sa`, `GPP_SA` to the macro name
/// (`A`, `SA`); `None` when it is not a GPP.
pub(crate) fn gpp_macro_name(letter_or_name: &str) -> Option<String> {
    let up = letter_or_name.trim().to_ascii_uppercase();
    let bare = up.strip_prefix("GPP_").unwrap_or(&up);
    let ok = match bare.as_bytes() {
        [c] => (b'A'..=b'P').contains(c),
        [b'S', c] => (b'A'..=b'D').contains(c),
        _ => false,
    };
    ok.then(|| bare.to_string())
}

impl MacroContext {
    /// An empty context: every known macro expands to the empty string.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `MA` (000e08012345), `MAU` (000E08012345) and `MAC`
    /// (00:0e:08:01:23:45). Accepts plain, colon, dash and dotted forms.
    pub fn with_mac(mut self, mac12hex: &str) -> Result<Self, RuleError> {
        let ma = Mac::parse(mac12hex).map_err(|_| RuleError::BadMac {
            input: mac12hex.to_string(),
        })?;
        self.vars.insert("MAU".into(), ma.to_upper());
        self.vars.insert("MAC".into(), ma.to_colon());
        self.vars.insert("MA".into(), ma.to_string());
        Ok(self)
    }

    /// Sets any macro variable. `GPP_X` names are stored under their macro
    /// name `X`; `METH` is stored as `SCHEME` (they are aliases).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let key = if name.starts_with("GPP_") {
            gpp_macro_name(name).unwrap_or_else(|| name.to_string())
        } else if name == "METH" {
            "SCHEME".to_string()
        } else {
            name.to_string()
        };
        self.vars.insert(key, value.into());
    }

    /// Sets a general purpose parameter: `a`/`A`/`GPP_A` … `p`, `sa`/`GPP_SA` … `sd`.
    pub fn set_gpp(
        &mut self,
        letter_or_name: &str,
        value: impl Into<String>,
    ) -> Result<(), RuleError> {
        let key = gpp_macro_name(letter_or_name).ok_or_else(|| RuleError::BadGppName {
            name: letter_or_name.to_string(),
        })?;
        self.vars.insert(key, value.into());
        Ok(())
    }

    /// The server used when a rule names none (DHCP option 66, or the host
    /// that sent the resync request). May carry a port: `host:6969`.
    pub fn set_default_server(&mut self, host: &str) {
        self.default_server = Some(host.trim().to_string());
    }

    /// The default server, if any.
    pub fn default_server(&self) -> Option<&str> {
        self.default_server.as_deref()
    }

    /// The value of a macro variable (`METH` reads `SCHEME`; `GPP_A` reads `A`).
    pub fn get(&self, name: &str) -> Option<&str> {
        let key = match name {
            "METH" => "SCHEME",
            n if n.starts_with("GPP_") => {
                return gpp_macro_name(n)
                    .and_then(|k| self.vars.get(&k))
                    .map(String::as_str);
            }
            n => n,
        };
        self.vars.get(key).map(String::as_str)
    }

    /// Sets `SCHEME`/`METH`, `SERV`, `PORT` and `PATH` from the URL being
    /// fetched, for the `Log_*` templates (`$SCHEME://$SERV:$PORT$PATH`).
    /// `SERVIP` is left to the caller, who knows the resolved address.
    pub fn set_request_url(&mut self, url: &ResolvedUrl) {
        self.set("SCHEME", url.scheme.as_str());
        self.set("SERV", url.host.clone());
        self.set("PORT", url.port.to_string());
        self.set("PATH", url.path.clone());
    }

    /// All variables, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_macro_mac_forms() {
        for form in [
            "000e08012345",
            "000E08012345",
            "00:0e:08:01:23:45",
            "00-0E-08-01-23-45",
            "000e.0801.2345",
        ] {
            let c = MacroContext::new().with_mac(form).unwrap();
            assert_eq!(c.get("MA"), Some("000e08012345"), "{form}");
            assert_eq!(c.get("MAU"), Some("000E08012345"));
            assert_eq!(c.get("MAC"), Some("00:0e:08:01:23:45"));
        }
        for bad in [
            "",
            "000e0801234",
            "000e08012345a",
            "00:0e:08:01:23-45",
            "zz0e08012345",
            "00:0e:08:01:2345",
        ] {
            let err = MacroContext::new().with_mac(bad).unwrap_err();
            assert!(matches!(err, RuleError::BadMac { .. }), "{bad}");
            assert!(err.to_string().contains("12 hex digits"));
        }
    }

    #[test]
    fn gpp_names() {
        let mut c = MacroContext::new();
        c.set_gpp("a", "1").unwrap();
        c.set_gpp("GPP_B", "2").unwrap();
        c.set_gpp("gpp_sd", "3").unwrap();
        c.set("GPP_P", "4");
        assert_eq!(c.get("A"), Some("1"));
        assert_eq!(c.get("B"), Some("2"));
        assert_eq!(c.get("SD"), Some("3"));
        assert_eq!(c.get("GPP_P"), Some("4"));
        for bad in ["q", "GPP_Q", "se", "AB", ""] {
            assert!(
                matches!(c.set_gpp(bad, "x"), Err(RuleError::BadGppName { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn meth_is_scheme_alias() {
        let mut c = MacroContext::new();
        c.set("METH", "http");
        assert_eq!(c.get("SCHEME"), Some("http"));
        assert_eq!(c.get("METH"), Some("http"));
    }
}
