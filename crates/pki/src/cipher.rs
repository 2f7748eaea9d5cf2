//! `TLS_Cipher_List` (R-SEC-2): OpenSSL cipher strings mapped onto the
//! cipher suites rustls implements.
//!
//! Hand-written because no crate evaluates OpenSSL cipher strings without
//! linking OpenSSL. The evaluator follows OpenSSL's rules (`man ciphers`):
//! elements separated by `:`, `,`, `;` or spaces; `A+B` is the intersection;
//! prefix `!` deletes for good, `-` removes, `+` moves to the end; `@STRENGTH`
//! sorts by key length; `DEFAULT`/`ALL` select everything; matching suites are
//! appended in OpenSSL's own default order. The string governs TLS 1.2 only:
//! as in OpenSSL 1.1.1 and later, the TLS 1.3 suites stay enabled.
//!
//! Outcomes (reported in [`CipherSelection::outcome`]):
//! * blank string → [`CipherOutcome::Blank`], default list;
//! * no recognised word at all → [`CipherOutcome::Invalid`], default list;
//! * recognised words that select none of rustls' TLS 1.2 suites (e.g.
//!   `RSA:!aNULL:!eNULL`: `RSA` means static-RSA key exchange, which rustls
//!   does not implement) → [`CipherOutcome::Unsupported`], default list;
//! * otherwise [`CipherOutcome::Mapped`] with the selected suites in order.
//!
//! Unknown words are skipped (as OpenSSL does) and listed in
//! [`CipherSelection::ignored`]. OpenSSL names of suites rustls lacks (any
//! `WORD-WORD...` token such as `AES128-SHA`) are recognised but select
//! nothing.

use std::fmt;
use std::sync::Arc;

use rustls::crypto::ring::cipher_suite as cs;
use rustls::crypto::CryptoProvider;
use rustls::SupportedCipherSuite;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Au {
    Rsa,
    Ecdsa,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Enc {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20,
}

/// One TLS 1.2 suite rustls/ring implements, with the attributes OpenSSL's
/// aliases select on.
struct Suite {
    openssl_name: &'static str,
    au: Au,
    enc: Enc,
    suite: SupportedCipherSuite,
}

impl Suite {
    fn bits(&self) -> u32 {
        match self.enc {
            Enc::Aes128Gcm => 128,
            Enc::Aes256Gcm | Enc::Chacha20 => 256,
        }
    }
}

/// rustls' TLS 1.2 suites in OpenSSL 3's default preference order, so a
/// mapped list reads exactly like `openssl ciphers -s` filtered to them.
fn tls12_suites() -> [Suite; 6] {
    [
        Suite {
            openssl_name: "ECDHE-ECDSA-AES256-GCM-SHA384",
            au: Au::Ecdsa,
            enc: Enc::Aes256Gcm,
            suite: cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        },
        Suite {
            openssl_name: "ECDHE-RSA-AES256-GCM-SHA384",
            au: Au::Rsa,
            enc: Enc::Aes256Gcm,
            suite: cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        },
        Suite {
            openssl_name: "ECDHE-ECDSA-CHACHA20-POLY1305",
            au: Au::Ecdsa,
            enc: Enc::Chacha20,
            suite: cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        },
        Suite {
            openssl_name: "ECDHE-RSA-CHACHA20-POLY1305",
            au: Au::Rsa,
            enc: Enc::Chacha20,
            suite: cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        },
        Suite {
            openssl_name: "ECDHE-ECDSA-AES128-GCM-SHA256",
            au: Au::Ecdsa,
            enc: Enc::Aes128Gcm,
            suite: cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        },
        Suite {
            openssl_name: "ECDHE-RSA-AES128-GCM-SHA256",
            au: Au::Rsa,
            enc: Enc::Aes128Gcm,
            suite: cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        },
    ]
}

/// OpenSSL aliases that are valid but select none of rustls' suites.
const KNOWN_EMPTY: &[&str] = &[
    "RSA",
    "kRSA",
    "MEDIUM",
    "LOW",
    "EXPORT",
    "EXP",
    "aNULL",
    "eNULL",
    "NULL",
    "COMPLEMENTOFALL",
    "COMPLEMENTOFDEFAULT",
    "aDSS",
    "DSS",
    "kDHE",
    "kEDH",
    "DHE",
    "EDH",
    "DH",
    "kDH",
    "kDHr",
    "kDHd",
    "ADH",
    "AECDH",
    "kECDH",
    "ECDH",
    "aECDH",
    "PSK",
    "kPSK",
    "aPSK",
    "kECDHEPSK",
    "kDHEPSK",
    "kRSAPSK",
    "SRP",
    "kSRP",
    "aSRP",
    "3DES",
    "DES",
    "RC4",
    "RC2",
    "IDEA",
    "SEED",
    "MD5",
    "SHA1",
    "SHA",
    "SHA256",
    "SHA384",
    "CAMELLIA",
    "CAMELLIA128",
    "CAMELLIA256",
    "ARIA",
    "ARIA128",
    "ARIA256",
    "ARIAGCM",
    "AESCCM",
    "AESCCM8",
    "TLSv1",
    "TLSv1.0",
    "SSLv3",
    "aGOST",
    "aGOST01",
    "kGOST",
    "GOST94",
    "GOST89MAC",
];

/// Selects the suites an alias stands for; `None` when the word is unknown.
fn alias_matches(word: &str, s: &Suite) -> Option<bool> {
    let hit = match word {
        "ALL" | "DEFAULT" | "HIGH" | "TLSv1.2" | "kECDHE" | "kEECDH" | "ECDHE" | "EECDH"
        | "AEAD" => true,
        "aRSA" => s.au == Au::Rsa,
        "aECDSA" | "ECDSA" => s.au == Au::Ecdsa,
        "AES" | "AESGCM" => matches!(s.enc, Enc::Aes128Gcm | Enc::Aes256Gcm),
        "AES128" => s.enc == Enc::Aes128Gcm,
        "AES256" => s.enc == Enc::Aes256Gcm,
        "CHACHA20" => s.enc == Enc::Chacha20,
        w if KNOWN_EMPTY.contains(&w) => false,
        w if w == s.openssl_name => true,
        w if looks_like_suite_name(w) => false,
        _ => return None,
    };
    Some(hit)
}

/// `AES128-SHA`, `DHE-RSA-AES256-GCM-SHA384`, ...: an OpenSSL suite name.
fn looks_like_suite_name(w: &str) -> bool {
    w.contains('-')
        && !w.starts_with('-')
        && !w.ends_with('-')
        && w.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
}

/// What happened to a `TLS_Cipher_List` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CipherOutcome {
    /// The string selected these suites.
    Mapped,
    /// Blank string: default list (R-SEC-2).
    Blank,
    /// Nothing in the string was recognised: default list (R-SEC-2).
    Invalid,
    /// Valid, but it selects no suite rustls implements: default list.
    Unsupported,
}

impl fmt::Display for CipherOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CipherOutcome::Mapped => "mapped onto rustls cipher suites",
            CipherOutcome::Blank => "blank: using the default cipher list",
            CipherOutcome::Invalid => {
                "not a valid OpenSSL cipher string: using the default cipher list"
            }
            CipherOutcome::Unsupported => {
                "selects no cipher suite rustls implements: using the default cipher list"
            }
        })
    }
}

/// The result of [`map_cipher_list`].
#[derive(Debug, Clone)]
pub struct CipherSelection {
    /// The suites to offer, TLS 1.3 first, then TLS 1.2 in preference order.
    pub suites: Vec<SupportedCipherSuite>,
    /// What happened (mapped or which fallback).
    pub outcome: CipherOutcome,
    /// Words skipped because they were not recognised.
    pub ignored: Vec<String>,
}

impl CipherSelection {
    /// True when the default list is used.
    pub fn is_default(&self) -> bool {
        self.outcome != CipherOutcome::Mapped
    }

    /// The OpenSSL names of the selected TLS 1.2 suites, in order.
    pub fn tls12_openssl_names(&self) -> Vec<&'static str> {
        let table = tls12_suites();
        self.suites
            .iter()
            .filter_map(|s| table.iter().find(|t| t.suite.suite() == s.suite()))
            .map(|t| t.openssl_name)
            .collect()
    }

    /// A ring crypto provider restricted to these suites.
    pub fn provider(&self) -> Arc<CryptoProvider> {
        Arc::new(CryptoProvider {
            cipher_suites: self.suites.clone(),
            ..rustls::crypto::ring::default_provider()
        })
    }

    fn default_with(outcome: CipherOutcome, ignored: Vec<String>) -> Self {
        CipherSelection {
            suites: rustls::crypto::ring::default_provider().cipher_suites,
            outcome,
            ignored,
        }
    }
}

/// Maps an OpenSSL cipher string (`TLS_Cipher_List`) onto rustls suites; see
/// the module docs for the rules and fallbacks.
pub fn map_cipher_list(openssl_cipher_string: &str) -> CipherSelection {
    let table = tls12_suites();
    let mut active: Vec<usize> = Vec::new();
    let mut deleted = [false; 6];
    let mut ignored = Vec::new();
    let mut recognised = false;
    let elements = openssl_cipher_string
        .split([':', ',', ';', ' '])
        .filter(|e| !e.is_empty())
        .collect::<Vec<_>>();
    if elements.is_empty() {
        return CipherSelection::default_with(CipherOutcome::Blank, ignored);
    }
    for element in elements {
        if element == "@STRENGTH" {
            recognised = true;
            active.sort_by_key(|&i| std::cmp::Reverse(table[i].bits()));
            continue;
        }
        if element.starts_with("@SECLEVEL=") {
            recognised = true;
            continue;
        }
        let (op, body) = match element.as_bytes()[0] {
            b'!' | b'-' | b'+' => (element.as_bytes()[0], &element[1..]),
            _ => (0, element),
        };
        // Intersection of every `+`-joined word; unknown word => skip element.
        let mut selected = [true; 6];
        let mut known = !body.is_empty();
        for word in body.split('+') {
            for (i, suite) in table.iter().enumerate() {
                match alias_matches(word, suite) {
                    Some(hit) => selected[i] &= hit,
                    None => known = false,
                }
            }
        }
        if !known {
            ignored.push(element.to_string());
            continue;
        }
        recognised = true;
        let chosen: Vec<usize> = (0..table.len()).filter(|&i| selected[i]).collect();
        match op {
            b'!' => {
                active.retain(|i| !selected[*i]);
                chosen.iter().for_each(|&i| deleted[i] = true);
            }
            b'-' => active.retain(|i| !selected[*i]),
            b'+' => {
                let (moved, kept): (Vec<usize>, Vec<usize>) =
                    active.iter().partition(|i| selected[**i]);
                active = kept;
                active.extend(moved);
            }
            _ => {
                for i in chosen {
                    if !deleted[i] && !active.contains(&i) {
                        active.push(i);
                    }
                }
            }
        }
    }
    if !recognised {
        return CipherSelection::default_with(CipherOutcome::Invalid, ignored);
    }
    if active.is_empty() {
        return CipherSelection::default_with(CipherOutcome::Unsupported, ignored);
    }
    let mut suites: Vec<SupportedCipherSuite> = rustls::crypto::ring::default_provider()
        .cipher_suites
        .into_iter()
        .filter(|s| s.version() == &rustls::version::TLS13)
        .collect();
    suites.extend(active.iter().map(|&i| table[i].suite));
    CipherSelection {
        suites,
        outcome: CipherOutcome::Mapped,
        ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &str) -> Vec<&'static str> {
        map_cipher_list(s).tls12_openssl_names()
    }

    #[test]
    fn seed_example_rsa_is_static_rsa_and_unsupported() {
        // R-SEC-2 example string: OpenSSL's RSA = kRSA, which rustls lacks.
        let sel = map_cipher_list("RSA:!aNULL:!eNULL");
        assert_eq!(sel.outcome, CipherOutcome::Unsupported);
        assert!(sel.is_default());
        assert_eq!(
            sel.suites.len(),
            rustls::crypto::ring::default_provider().cipher_suites.len()
        );
    }

    #[test]
    fn ecdhe_and_aesgcm_intersect() {
        let sel = map_cipher_list("ECDHE+AESGCM");
        assert_eq!(sel.outcome, CipherOutcome::Mapped);
        assert_eq!(
            sel.tls12_openssl_names(),
            [
                "ECDHE-ECDSA-AES256-GCM-SHA384",
                "ECDHE-RSA-AES256-GCM-SHA384",
                "ECDHE-ECDSA-AES128-GCM-SHA256",
                "ECDHE-RSA-AES128-GCM-SHA256"
            ]
        );
        // TLS 1.3 suites stay (OpenSSL >= 1.1.1 behaviour).
        assert_eq!(sel.suites.len(), 3 + 4);
    }

    #[test]
    fn high_selects_all_six() {
        let sel = map_cipher_list("HIGH");
        assert_eq!(sel.outcome, CipherOutcome::Mapped);
        assert_eq!(sel.tls12_openssl_names().len(), 6);
    }

    #[test]
    fn blank_and_garbage_fall_back() {
        assert_eq!(map_cipher_list("").outcome, CipherOutcome::Blank);
        assert_eq!(map_cipher_list("  ").outcome, CipherOutcome::Blank);
        let sel = map_cipher_list("garbage");
        assert_eq!(sel.outcome, CipherOutcome::Invalid);
        assert_eq!(sel.ignored, ["garbage"]);
        assert!(sel.is_default());
    }

    #[test]
    fn unknown_words_are_skipped_like_openssl() {
        let sel = map_cipher_list("aRSA:garbage");
        assert_eq!(sel.outcome, CipherOutcome::Mapped);
        assert_eq!(sel.ignored, ["garbage"]);
        assert_eq!(
            sel.tls12_openssl_names(),
            [
                "ECDHE-RSA-AES256-GCM-SHA384",
                "ECDHE-RSA-CHACHA20-POLY1305",
                "ECDHE-RSA-AES128-GCM-SHA256"
            ]
        );
    }

    #[test]
    fn operators_delete_remove_and_move() {
        assert_eq!(names("HIGH:!CHACHA20:CHACHA20").len(), 4);
        assert_eq!(names("HIGH:-CHACHA20:CHACHA20").len(), 6);
        let moved = names("HIGH:+AES128");
        assert_eq!(
            moved[4..],
            [
                "ECDHE-ECDSA-AES128-GCM-SHA256",
                "ECDHE-RSA-AES128-GCM-SHA256"
            ]
        );
        assert_eq!(
            names("AES128:AES256:@STRENGTH")[0],
            "ECDHE-ECDSA-AES256-GCM-SHA384"
        );
        assert_eq!(
            names("ECDHE-RSA-AES128-GCM-SHA256"),
            ["ECDHE-RSA-AES128-GCM-SHA256"]
        );
        assert_eq!(
            map_cipher_list("AES128-SHA").outcome,
            CipherOutcome::Unsupported
        );
    }
}
