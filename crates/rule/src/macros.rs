//! Macro expansion (R-MACRO), used in rules and in `Log_*_Msg` templates.
//!
//! Forms:
//! - `$$` is a literal `$`; the result is never expanded again.
//! - `$(NAME)`, `$(NAME:p)`, `$(NAME:p:q)`: the value, or its substring from
//!   character offset `p` (to the end, or `q` characters long). Offsets out of
//!   range clamp to the value. A malformed `$(...)` stays literal.
//! - `$NAME`: the scanner takes the maximal run of identifier characters
//!   `[A-Za-z0-9_]` after `$`. If the whole run is a known name it is used;
//!   otherwise the LONGEST known name that prefixes the run is used and the
//!   rest of the run is literal text. So `$MA.cfg` uses `MA`, `$MAU.cfg` uses
//!   `MAU`, and `$MACfoo` is `$MAC` followed by `foo` (the lint warns about
//!   that last case, suggesting `$(MAC)foo`). If no prefix is known the `$`
//!   and the run stay literal (`$STRANGE$MAU.cfg` →
//!   `$STRANGE000E08012345.cfg`). Since the single letters `A`..`P` are
//!   names, any run starting with one of them expands (`$HOME` is GPP_H
//!   followed by `OME`); the lint flags such cases.
//! - Names are case-sensitive (`$ma` stays literal; the lint suggests `$MA`).
//! - A known name without a value in the context expands to the empty string.
//! - `SA`..`SD` (GPP_SA..GPP_SD, secrets) are known only inside
//!   `--key`/`--uid`/`--pwd` option values ([`expand_secret`]); elsewhere
//!   ([`expand`]) they are treated as unknown and stay literal, so a secret
//!   never leaks into a URL or a syslog line.

use crate::context::MacroContext;
use std::ops::Range;

/// Known macro names with a fixed spelling. `SA`..`SD` are listed but only
/// expand inside `--key`/`--uid`/`--pwd` values. See also [`MACRO_FAMILIES`].
pub const MACRO_NAMES: &[&str] = &[
    "A",
    "B",
    "C",
    "D",
    "E",
    "F",
    "G",
    "H",
    "I",
    "J",
    "K",
    "L",
    "M",
    "N",
    "O",
    "P", // GPP_A..GPP_P
    "SA",
    "SB",
    "SC",
    "SD", // GPP_SA..GPP_SD, secret option values only
    "MA",
    "MAU",
    "MAC", // MAC: 000e08012345, 000E08012345, 00:0e:08:01:23:45
    "PN",
    "PSN",
    "SN",
    "CCERT",
    "IP",
    "EXTIP",
    "SWVER",
    "HWVER",
    "PRVST",
    "UPGST",
    "UPGERR",
    "PRVTMR",
    "UPGTMR",
    "REGTMR1",
    "REGTMR2",
    "UPGCOND",
    "SCHEME",
    "METH",
    "SERV",
    "SERVIP",
    "PORT",
    "PATH",
    "ERR",
    "ISCUST",
    "INCOMINGNAME",
    "REMOTENUMBER",
];

/// Name families followed by a line number (one or more digits):
/// `UIDn`, `DISPLAYNAMEn`, `AUTHIDn` (e.g. `$UID1`, `$(DISPLAYNAME12)`).
pub const MACRO_FAMILIES: &[&str] = &["UID", "DISPLAYNAME", "AUTHID"];

/// Secret names, known only inside `--key`/`--uid`/`--pwd` values.
pub(crate) const SECRET_NAMES: &[&str] = &["SA", "SB", "SC", "SD"];

/// Whether `name` is a known macro name (any context, secrets included).
pub fn is_macro_name(name: &str) -> bool {
    is_known(name, true)
}

/// Known in the given mode (`secret`: inside a key/uid/pwd value).
pub(crate) fn is_known(name: &str, secret: bool) -> bool {
    if SECRET_NAMES.contains(&name) {
        return secret;
    }
    if MACRO_NAMES.contains(&name) {
        return true;
    }
    MACRO_FAMILIES.iter().any(|fam| {
        name.strip_prefix(fam)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// One piece of a scanned template; ranges are byte ranges into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Text copied as is.
    Literal(Range<usize>),
    /// `$$`.
    Dollar(Range<usize>),
    /// A known macro; `rest` is the literal tail of a `$NAME` run whose
    /// longest known prefix was used (`$MACfoo`: rest = "foo").
    Macro {
        range: Range<usize>,
        name: String,
        sub: Option<(usize, Option<usize>)>,
        rest: Range<usize>,
    },
    /// `$NAME` or `$(NAME...)` with an unknown name: stays literal.
    Unknown { range: Range<usize>, name: String },
    /// `$` not followed by a name, or a malformed `$(`: stays literal.
    Malformed(Range<usize>),
}

/// Splits a template into pieces (see the module docs for the rules).
pub(crate) fn scan(t: &str, secret: bool) -> Vec<Piece> {
    let b = t.as_bytes();
    let mut out = Vec::new();
    let mut lit_start = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        if lit_start < i {
            out.push(Piece::Literal(lit_start..i));
        }
        let start = i;
        let (piece, next) = scan_dollar(t, start, secret);
        out.push(piece);
        i = next;
        lit_start = next;
    }
    if lit_start < b.len() {
        out.push(Piece::Literal(lit_start..b.len()));
    }
    out
}

/// Scans the macro at `start` (a `$`); returns the piece and the next index.
fn scan_dollar(t: &str, start: usize, secret: bool) -> (Piece, usize) {
    let b = t.as_bytes();
    let i = start + 1;
    match b.get(i) {
        Some(b'$') => (Piece::Dollar(start..i + 1), i + 1),
        Some(b'(') => scan_paren(t, start, secret),
        Some(&c) if is_ident(c) => {
            let mut j = i;
            while j < b.len() && is_ident(b[j]) {
                j += 1;
            }
            let run = &t[i..j];
            // Longest known prefix (the whole run first).
            for len in (1..=run.len()).rev() {
                if is_known(&run[..len], secret) {
                    let name_end = i + len;
                    return (
                        Piece::Macro {
                            range: start..name_end,
                            name: run[..len].to_string(),
                            sub: None,
                            rest: name_end..j,
                        },
                        j,
                    );
                }
            }
            (
                Piece::Unknown {
                    range: start..j,
                    name: run.to_string(),
                },
                j,
            )
        }
        _ => (Piece::Malformed(start..i), i),
    }
}

/// Scans `$(NAME[:p[:q]])` at `start`.
fn scan_paren(t: &str, start: usize, secret: bool) -> (Piece, usize) {
    let b = t.as_bytes();
    let open = start + 1;
    let Some(close_rel) = t[open + 1..].find(')') else {
        return (Piece::Malformed(start..open + 1), open + 1);
    };
    let close = open + 1 + close_rel;
    let inner = &t[open + 1..close];
    let end = close + 1;
    let mut parts = inner.split(':');
    let name = parts.next().unwrap_or("");
    let nums: Vec<&str> = parts.collect();
    let name_ok = !name.is_empty() && name.bytes().all(is_ident);
    let nums_ok = nums.len() <= 2
        && nums
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()));
    if !name_ok || !nums_ok {
        // Only the `$(` is malformed; the rest is rescanned as text.
        let _ = b;
        return (Piece::Malformed(start..open + 1), open + 1);
    }
    if !is_known(name, secret) {
        return (
            Piece::Unknown {
                range: start..end,
                name: name.to_string(),
            },
            end,
        );
    }
    let parse = |s: &str| s.parse::<usize>().unwrap_or(usize::MAX);
    let sub = match nums.as_slice() {
        [] => None,
        [p] => Some((parse(p), None)),
        [p, q] => Some((parse(p), Some(parse(q)))),
        _ => unreachable!("checked above"),
    };
    (
        Piece::Macro {
            range: start..end,
            name: name.to_string(),
            sub,
            rest: end..end,
        },
        end,
    )
}

/// Character substring with clamping (R-MACRO `$(NAME:p:q)`).
fn substring(value: &str, p: usize, q: Option<usize>) -> String {
    let it = value.chars().skip(p);
    match q {
        Some(q) => it.take(q).collect(),
        None => it.collect(),
    }
}

fn expand_mode(t: &str, ctx: &MacroContext, secret: bool) -> String {
    let mut out = String::with_capacity(t.len());
    for piece in scan(t, secret) {
        match piece {
            Piece::Literal(r) | Piece::Malformed(r) => out.push_str(&t[r]),
            Piece::Unknown { range, .. } => out.push_str(&t[range]),
            Piece::Dollar(_) => out.push('$'),
            Piece::Macro {
                name, sub, rest, ..
            } => {
                let value = ctx.get(&name).unwrap_or("");
                match sub {
                    None => out.push_str(value),
                    Some((p, q)) => out.push_str(&substring(value, p, q)),
                }
                out.push_str(&t[rest]);
            }
        }
    }
    out
}

/// Expands macros in a rule part or a `Log_*` template. `SA`..`SD` stay
/// literal here; see [`expand_secret`].
pub fn expand(template: &str, ctx: &MacroContext) -> String {
    expand_mode(template, ctx, false)
}

/// Expands macros in a `--key`/`--uid`/`--pwd` value, where `SA`..`SD`
/// (GPP_SA..GPP_SD) are also known.
pub fn expand_secret(template: &str, ctx: &MacroContext) -> String {
    expand_mode(template, ctx, true)
}

/// Escapes text so that [`expand`] gives it back unchanged (`$` → `$$`).
pub fn escape(text: &str) -> String {
    text.replace('$', "$$")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> MacroContext {
        let mut c = MacroContext::new().with_mac("000e08012345").unwrap();
        c.set("PN", "CP-6841-3PCC");
        c.set_gpp("b", "Dj6Lmp23Q").unwrap();
        c.set_gpp("sa", "s3cret").unwrap();
        c.set("UID1", "1001");
        c
    }

    #[test]
    fn r_macro_bare_names_and_longest_prefix() {
        let c = ctx();
        assert_eq!(expand("ata$MA.cfg", &c), "ata000e08012345.cfg");
        assert_eq!(expand("$MAU.cfg", &c), "000E08012345.cfg");
        assert_eq!(expand("$MAC", &c), "00:0e:08:01:23:45");
        // Decision: longest known prefix of the identifier run.
        assert_eq!(expand("$MACfoo", &c), "00:0e:08:01:23:45foo");
        assert_eq!(expand("$MAfoo", &c), "000e08012345foo");
        assert_eq!(expand("$B_1", &c), "Dj6Lmp23Q_1");
        assert_eq!(expand("$UID1/$UID12", &c), "1001/");
        // Single letters are names: `$HOME` is GPP_H (empty here) + `OME`.
        assert_eq!(expand("$HOME", &c), "OME");
    }

    #[test]
    fn r_macro_unknown_names_stay_literal() {
        let c = ctx();
        assert_eq!(expand("$STRANGE$MAU.cfg", &c), "$STRANGE000E08012345.cfg");
        assert_eq!(expand("$ma", &c), "$ma");
        assert_eq!(expand("$(NOPE:1)x", &c), "$(NOPE:1)x");
        assert_eq!(expand("$UID", &c), "$UID");
        assert_eq!(expand("cost $5", &c), "cost $5");
    }

    #[test]
    fn r_macro_dollar_dollar_is_not_reexpanded() {
        let c = ctx();
        assert_eq!(expand("$$", &c), "$");
        assert_eq!(expand("$$MA", &c), "$MA");
        assert_eq!(expand("$$$MA", &c), "$000e08012345");
        assert_eq!(expand(&escape("$MA $(PN)"), &c), "$MA $(PN)");
    }

    #[test]
    fn r_macro_paren_and_substrings() {
        let c = ctx();
        assert_eq!(expand("$(MA)", &c), "000e08012345");
        assert_eq!(expand("$(MA:6)", &c), "012345");
        assert_eq!(expand("$(MA:0:6)", &c), "000e08");
        assert_eq!(expand("$(MA:10:50)", &c), "45");
        assert_eq!(expand("$(MA:99)", &c), "");
        assert_eq!(expand("$(MA:99999999999999999999999)", &c), "");
        assert_eq!(expand("$(PN)x", &c), "CP-6841-3PCCx");
    }

    #[test]
    fn r_macro_malformed_paren_stays_literal() {
        let c = ctx();
        assert_eq!(expand("$(MA", &c), "$(MA");
        assert_eq!(expand("$(MA:x)", &c), "$(MA:x)");
        assert_eq!(expand("$(MA:1:2:3)", &c), "$(MA:1:2:3)");
        assert_eq!(expand("$()", &c), "$()");
        assert_eq!(expand("$", &c), "$");
        assert_eq!(expand("a$-b", &c), "a$-b");
        // `$(` malformed, the rest is rescanned: `$MA` inside still expands.
        assert_eq!(expand("$( $MA", &c), "$( 000e08012345");
    }

    #[test]
    fn r_macro_known_without_value_is_empty() {
        let c = ctx();
        assert_eq!(expand("[$SWVER][$(P:1)][$DISPLAYNAME3]", &c), "[][][]");
    }

    #[test]
    fn r_macro_secrets_only_in_secret_mode() {
        let c = ctx();
        assert_eq!(expand("$SA/$(SA)", &c), "$SA/$(SA)");
        assert_eq!(expand_secret("$SA/$(SA:0:2)", &c), "s3cret/s3");
        // `$SAfoo` outside secrets: `SA` is not a known prefix there.
        assert_eq!(expand("$SAfoo", &c), "$SAfoo");
        assert_eq!(expand("$SN", &c), "");
    }

    #[test]
    fn known_names() {
        assert!(is_macro_name("DISPLAYNAME1"));
        assert!(is_macro_name("AUTHID42"));
        assert!(!is_macro_name("AUTHID"));
        assert!(!is_macro_name("UIDx"));
        assert!(is_macro_name("SD"));
        assert!(!is_known("SD", false));
        assert!(!is_macro_name("Q"));
    }
}
