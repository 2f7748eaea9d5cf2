//! What a phone's syslog line is about: whose it is (the MAC in the text)
//! and which of the six R-LOG events it reports.
//!
//! The phone expands its templates (`Log_Resync_Request_Msg` … R-LOG-2)
//! with macros before sending; the factory defaults are
//! `$PN $MAC -- Requesting resync $SCHEME://$SERVIP:$PORT$PATH`,
//! `$PN $MAC -- Successful resync $SCHEME://$SERVIP:$PORT$PATH`,
//! `$PN $MAC -- Resync failed: $ERR` and the same three with `upgrade`
//! (the upgrade success template appends ` -- $ERR`). Operators edit the
//! templates, so classification looks at words, not at exact text: the
//! verdict word next to `resync`/`upgrade` decides, then any verdict word
//! outside URLs. Text inside URLs never counts (a profile called
//! `failed.cfg` must not turn a request into a failure).

use phoneprov_types::Mac;

/// Which R-LOG event a line reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhoneLogKind {
    /// `Requesting resync …` (R-LOG-1, start).
    ResyncRequest,
    /// `Successful resync …`.
    ResyncSuccess,
    /// `Resync failed: …`.
    ResyncFailure,
    /// `Requesting upgrade …`.
    UpgradeRequest,
    /// `Successful upgrade …`.
    UpgradeSuccess,
    /// `Upgrade failed: …`.
    UpgradeFailure,
    /// Anything else.
    Other,
}

impl PhoneLogKind {
    /// Stable lowercase name (`resync-success`), for metrics and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PhoneLogKind::ResyncRequest => "resync-request",
            PhoneLogKind::ResyncSuccess => "resync-success",
            PhoneLogKind::ResyncFailure => "resync-failure",
            PhoneLogKind::UpgradeRequest => "upgrade-request",
            PhoneLogKind::UpgradeSuccess => "upgrade-success",
            PhoneLogKind::UpgradeFailure => "upgrade-failure",
            PhoneLogKind::Other => "other",
        }
    }

    /// All kinds, in a fixed order (for metric tables).
    pub const ALL: [PhoneLogKind; 7] = [
        PhoneLogKind::ResyncRequest,
        PhoneLogKind::ResyncSuccess,
        PhoneLogKind::ResyncFailure,
        PhoneLogKind::UpgradeRequest,
        PhoneLogKind::UpgradeSuccess,
        PhoneLogKind::UpgradeFailure,
        PhoneLogKind::Other,
    ];
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Request,
    Success,
    Failure,
}

fn verdict_before(word: &str) -> Option<Verdict> {
    match word {
        "requesting" | "request" | "start" | "starting" => Some(Verdict::Request),
        "successful" | "success" | "succeeded" | "completed" => Some(Verdict::Success),
        "failed" | "failure" | "unsuccessful" => Some(Verdict::Failure),
        _ => None,
    }
}

fn verdict_after(word: &str) -> Option<Verdict> {
    match word {
        "request" | "requested" | "started" | "starting" => Some(Verdict::Request),
        "successful" | "succeeded" | "success" | "ok" | "done" | "complete" | "completed" => {
            Some(Verdict::Success)
        }
        "failed" | "failure" | "fail" | "error" | "aborted" => Some(Verdict::Failure),
        _ => None,
    }
}

/// Classifies one message text (usually [`crate::SyslogMessage::msg`]).
pub fn classify(text: &str) -> PhoneLogKind {
    let words = words_outside_urls(text);
    let Some(at) = words.iter().position(|w| w == "resync" || w == "upgrade") else {
        return PhoneLogKind::Other;
    };
    let upgrade = words[at] == "upgrade";
    let adjacent = at
        .checked_sub(1)
        .and_then(|i| verdict_before(&words[i]))
        .or_else(|| words.get(at + 1).and_then(|w| verdict_after(w)));
    // Failure words anywhere win over success words anywhere: "failed
    // after successful download" is a failure.
    let anywhere = || {
        let has = |v: Verdict| {
            words
                .iter()
                .any(|w| verdict_before(w) == Some(v) || verdict_after(w) == Some(v))
        };
        [Verdict::Failure, Verdict::Success, Verdict::Request]
            .into_iter()
            .find(|&v| has(v))
    };
    match (upgrade, adjacent.or_else(anywhere)) {
        (false, Some(Verdict::Request)) => PhoneLogKind::ResyncRequest,
        (false, Some(Verdict::Success)) => PhoneLogKind::ResyncSuccess,
        (false, Some(Verdict::Failure)) => PhoneLogKind::ResyncFailure,
        (true, Some(Verdict::Request)) => PhoneLogKind::UpgradeRequest,
        (true, Some(Verdict::Success)) => PhoneLogKind::UpgradeSuccess,
        (true, Some(Verdict::Failure)) => PhoneLogKind::UpgradeFailure,
        (_, None) => PhoneLogKind::Other,
    }
}

/// Lowercase alphanumeric words of `text`, skipping tokens with `://`.
fn words_outside_urls(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|tok| !tok.contains("://"))
        .flat_map(|tok| tok.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The first MAC address in `text`, in order of confidence:
/// 1. six hex pairs separated by `:` or `-` (the `$MAC` spelling, R-LOG-3);
/// 2. 12 hex digits standing alone as a word (`$MA`, `(000e08abcdef)`);
/// 3. 12 hex digits at the end of a longer word whose other letters are not
///    hex (`SEP000E08ABCDEF`, a Cisco device name).
///
/// Forms 2 and 3 need at least one decimal digit, so that English words
/// made of a–f letters are not taken for a MAC.
pub fn find_mac(text: &str) -> Option<Mac> {
    let b = text.as_bytes();
    let hex = |i: usize| b.get(i).is_some_and(u8::is_ascii_hexdigit);
    // 1. separated form.
    for start in 0..b.len() {
        if start + 17 > b.len() || (start > 0 && (hex(start - 1) || is_sep(b[start - 1]))) {
            continue;
        }
        let sep = b[start + 2];
        if !is_sep(sep) {
            continue;
        }
        let ok = (0..17).all(|i| {
            if i % 3 == 2 {
                b[start + i] == sep
            } else {
                hex(start + i)
            }
        });
        let end = start + 17;
        if ok && !hex(end) && !(end < b.len() && is_sep(b[end]) && hex(end + 1)) {
            return mac_from_hex(b[start..end].iter().copied().filter(|c| !is_sep(*c)));
        }
    }
    // 2 and 3: runs of exactly 12 hex digits.
    let mut fallback = None;
    let mut i = 0;
    while i < b.len() {
        if !hex(i) {
            i += 1;
            continue;
        }
        let start = i;
        while hex(i) {
            i += 1;
        }
        let run = &b[start..i];
        if run.len() != 12 || !run.iter().any(u8::is_ascii_digit) {
            continue;
        }
        let alnum = |j: Option<usize>| {
            j.and_then(|j| b.get(j))
                .is_some_and(u8::is_ascii_alphanumeric)
        };
        let lone = !alnum(start.checked_sub(1)) && !alnum(Some(i));
        if lone {
            return mac_from_hex(run.iter().copied());
        }
        if fallback.is_none() && !alnum(Some(i)) {
            fallback = mac_from_hex(run.iter().copied());
        }
    }
    fallback
}

fn is_sep(c: u8) -> bool {
    c == b':' || c == b'-'
}

fn mac_from_hex(digits: impl Iterator<Item = u8>) -> Option<Mac> {
    let s: String = digits.map(char::from).collect();
    Mac::parse(&s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> Option<String> {
        find_mac(s).map(|m| m.to_string())
    }

    /// R-LOG-3: the SPEC's example line, en dash included.
    #[test]
    fn r_log_3_spec_example() {
        let t = "ATA192-MPP 00:0e:08:ab:cd:ef –- Successful resync tftp://192.168.1.200/basic.txt";
        assert_eq!(mac(t).as_deref(), Some("000e08abcdef"));
        assert_eq!(classify(t), PhoneLogKind::ResyncSuccess);
    }

    /// R-LOG-2: the six default templates, expanded.
    #[test]
    fn r_log_2_default_templates() {
        let cases = [
            ("CP-8841-3PCC 00:0E:08:AB:CD:EF -- Requesting resync http://10.0.0.1:80/cfg/failed.xml", PhoneLogKind::ResyncRequest),
            ("CP-8841-3PCC 00:0E:08:AB:CD:EF -- Successful resync http://10.0.0.1:80/x.xml", PhoneLogKind::ResyncSuccess),
            ("CP-8841-3PCC 00:0E:08:AB:CD:EF -- Resync failed: 404 not found", PhoneLogKind::ResyncFailure),
            ("CP-8841-3PCC 00:0E:08:AB:CD:EF -- Requesting upgrade tftp://10.0.0.1:69/sip.loads", PhoneLogKind::UpgradeRequest),
            ("CP-8841-3PCC 00:0E:08:AB:CD:EF -- Successful upgrade tftp://10.0.0.1:69/sip.loads -- ", PhoneLogKind::UpgradeSuccess),
            ("CP-8841-3PCC 00:0E:08:AB:CD:EF -- Upgrade failed: bad image", PhoneLogKind::UpgradeFailure),
            ("CP-8841-3PCC 00:0E:08:AB:CD:EF -- Registered line 1", PhoneLogKind::Other),
            ("resync", PhoneLogKind::Other),
        ];
        for (text, kind) in cases {
            assert_eq!(classify(text), kind, "{text}");
            if text.contains("00:0E") {
                assert_eq!(mac(text).as_deref(), Some("000e08abcdef"), "{text}");
            }
        }
    }

    #[test]
    fn mac_spellings() {
        assert_eq!(mac("ua (000e08abcdef) x").as_deref(), Some("000e08abcdef"));
        assert_eq!(mac("00-0e-08-ab-cd-ef").as_deref(), Some("000e08abcdef"));
        assert_eq!(mac("SEP000E08ABCDEF boot").as_deref(), Some("000e08abcdef"));
        // Lone word wins over a fallback seen earlier.
        assert_eq!(
            mac("SEP000E08ABCDEF has 001122334455").as_deref(),
            Some("001122334455")
        );
    }

    #[test]
    fn not_macs() {
        for t in [
            "",
            "deadbeefcafe",                 // no digit
            "000e08abcdef0",                // 13 digits
            "00:0e:08:ab:cd:ef:01",         // 7 groups
            "00:0e:08-ab:cd:ef",            // mixed separators
            "tftp://h/ata000e08abcdef.cfg", // hex letter glued in front and a word after
            "00:0e:08:ab:cd",               // 5 groups
        ] {
            assert_eq!(mac(t), None, "{t}");
        }
    }
}
