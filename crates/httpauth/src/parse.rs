//! The RFC 7235 §2.1 / §4.1 grammar shared by `WWW-Authenticate` and
//! `Authorization`: a comma-separated list of `scheme [token68 | #auth-param]`
//! where the parameters are themselves comma-separated, so a new challenge
//! is recognised by a token that is *not* followed by `=`.
//!
//! Hand-written: the crates that parse these headers either handle one
//! challenge per header only or allocate a whole HTTP stack. Unquoted
//! parameter values are accepted leniently (anything up to a comma or
//! space), because some embedded servers send `nonce=abc/def=` unquoted.

use crate::AuthError;

/// One challenge or credential: scheme plus parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    /// Scheme as written (compare case-insensitively).
    pub scheme: String,
    /// A token68 (e.g. Basic credentials), if the item has one.
    pub token68: Option<String>,
    /// Parameters, names lowercased, values unquoted, in order.
    pub params: Vec<(String, String)>,
}

impl Item {
    /// First value of parameter `name` (lowercase).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Cur<'a> {
    s: &'a str,
    i: usize,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

impl<'a> Cur<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn ows(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i - start
    }

    fn skip_list_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> Option<&'a str> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| &self.s[start..self.i])
    }

    fn err(&self, what: &'static str) -> AuthError {
        AuthError::Syntax { at: self.i, what }
    }

    /// At a `"`: the unescaped content of the quoted string.
    fn quoted(&mut self) -> Result<String, AuthError> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.i += 1;
        let mut out = Vec::new();
        let bytes = self.s.as_bytes();
        loop {
            match bytes.get(self.i) {
                None => return Err(self.err("a closing quote")),
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    self.i += 1;
                    match bytes.get(self.i) {
                        Some(&b) => out.push(b),
                        None => return Err(self.err("a character after the backslash")),
                    }
                    self.i += 1;
                }
                Some(&b) => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
        // Only ASCII backslashes were removed, so this stays valid UTF-8.
        Ok(String::from_utf8(out).unwrap_or_default())
    }

    /// Whether `token OWS "="` starts here (without consuming).
    fn param_ahead(&mut self) -> bool {
        let save = self.i;
        let ok = self.token().is_some() && {
            self.ows();
            self.peek() == Some(b'=')
        };
        self.i = save;
        ok
    }

    /// `name OWS "=" OWS value`; `Ok(None)` (position unchanged) when what
    /// follows is a token68 rather than a parameter.
    fn param(&mut self) -> Result<Option<(String, String)>, AuthError> {
        let save = self.i;
        let Some(name) = self.token() else {
            return Ok(None);
        };
        self.ows();
        if self.peek() != Some(b'=') {
            self.i = save;
            return Ok(None);
        }
        self.i += 1;
        self.ows();
        let value = match self.peek() {
            Some(b'"') => self.quoted()?,
            None | Some(b',' | b'=') => {
                self.i = save;
                return Ok(None);
            }
            Some(_) => {
                let start = self.i;
                while !matches!(self.peek(), None | Some(b',' | b' ' | b'\t')) {
                    self.i += 1;
                }
                self.s[start..self.i].to_string()
            }
        };
        Ok(Some((name.to_ascii_lowercase(), value)))
    }

    fn token68(&mut self) -> Result<String, AuthError> {
        let start = self.i;
        while self.peek().is_some_and(is_token68_char) {
            self.i += 1;
        }
        if self.i == start {
            return Err(self.err("a token68 or an auth-param"));
        }
        while self.peek() == Some(b'=') {
            self.i += 1;
        }
        Ok(self.s[start..self.i].to_string())
    }
}

/// Parses a whole header value into its items.
pub(crate) fn parse_items(s: &str) -> Result<Vec<Item>, AuthError> {
    let mut c = Cur { s, i: 0 };
    let mut items = Vec::new();
    loop {
        c.skip_list_separators();
        if c.at_end() {
            break;
        }
        let scheme = c
            .token()
            .ok_or_else(|| c.err("an authentication scheme"))?
            .to_string();
        let mut item = Item {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        let spaced = c.ows() > 0;
        if !c.at_end() && c.peek() != Some(b',') {
            if !spaced {
                return Err(c.err("a space after the authentication scheme"));
            }
            match c.param()? {
                Some(p) => item.params.push(p),
                None => item.token68 = Some(c.token68()?),
            }
            loop {
                c.ows();
                if c.at_end() {
                    break;
                }
                if c.peek() != Some(b',') {
                    return Err(c.err("a comma between parameters"));
                }
                let save = c.i;
                c.skip_list_separators();
                if c.at_end() {
                    break;
                }
                if item.token68.is_none() && c.param_ahead() {
                    match c.param()? {
                        Some(p) => item.params.push(p),
                        None => return Err(c.err("a parameter value")),
                    }
                } else {
                    c.i = save;
                    break;
                }
            }
        }
        items.push(item);
    }
    if items.is_empty() {
        return Err(AuthError::Empty);
    }
    Ok(items)
}

/// Quotes `v` as an RFC 7230 quoted-string (escaping `\` and `"`).
pub(crate) fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for ch in v.chars() {
        if ch == '"' || ch == '\\' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_challenges_in_one_header() {
        let items = parse_items(
            r#"Digest realm="a, b", nonce="n\"1", qop="auth,auth-int", Basic realm="x""#,
        )
        .unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].param("realm"), Some("a, b"));
        assert_eq!(items[0].param("nonce"), Some("n\"1"));
        assert_eq!(items[0].param("qop"), Some("auth,auth-int"));
        assert_eq!(items[1].scheme, "Basic");
        assert_eq!(items[1].param("realm"), Some("x"));
    }

    #[test]
    fn token68_and_bare_scheme() {
        let items = parse_items("Basic dXNlcjpwYXNz, Negotiate, NTLM").unwrap();
        assert_eq!(items[0].token68.as_deref(), Some("dXNlcjpwYXNz"));
        assert_eq!(items[1].scheme, "Negotiate");
        assert_eq!(items[2].scheme, "NTLM");
        let items = parse_items("Newauth abc==, Basic realm=simple").unwrap();
        assert_eq!(items[0].token68.as_deref(), Some("abc=="));
        assert_eq!(items[1].param("realm"), Some("simple"));
    }

    #[test]
    fn errors() {
        assert_eq!(parse_items("   ").unwrap_err(), AuthError::Empty);
        assert!(matches!(
            parse_items(r#"Digest realm="open"#).unwrap_err(),
            AuthError::Syntax { .. }
        ));
        assert!(matches!(
            parse_items(r#"Digest realm="a" nonce="b""#).unwrap_err(),
            AuthError::Syntax { .. }
        ));
    }

    #[test]
    fn quote_roundtrip() {
        let v = r#"we"ird\realm"#;
        let items = parse_items(&format!("X p={}", quote(v))).unwrap();
        assert_eq!(items[0].param("p"), Some(v));
    }
}
