//! [`ActivationRepo`]: the activation service's bindings, single-use
//! activation codes and short codes (R-ACT), and its SQLite implementation
//! on [`Store`]. Validation (URLs, serial ranges, code shapes) and code
//! generation stay in `phoneprov-activation`; this is storage only.
//!
//! Times are Unix milliseconds passed in by the caller, never read here:
//! expiry is tested with an injected clock.

use serde::{Deserialize, Serialize};

use crate::db::{vals, Row};
use crate::error::Result;
use crate::store::Store;
use crate::Mac;

/// Which devices a binding covers (already validated by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindTarget<'a> {
    /// One phone.
    Mac(Mac),
    /// Serials `from..=to`, upper case, of the same length.
    Serials {
        /// Lower bound, inclusive.
        from: &'a str,
        /// Upper bound, inclusive.
        to: &'a str,
    },
}

/// One binding (a row of `activation_bindings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// Row id.
    pub id: i64,
    /// The phone, for a MAC binding.
    pub mac: Option<String>,
    /// Range start, for a serial binding.
    pub serial_from: Option<String>,
    /// Range end, for a serial binding.
    pub serial_to: Option<String>,
    /// Only phones of this model match, when set.
    pub model: Option<String>,
    /// The provider's profile rule the phone is redirected to.
    pub url: String,
    /// `operator`, or the (masked) code whose redemption made it.
    pub source: String,
    /// When made, Unix ms.
    pub created_ms: i64,
}

/// One issued activation code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCode {
    /// The 16 digits.
    pub code: String,
    /// Where it redirects.
    pub url: String,
    /// When issued, Unix ms.
    pub created_ms: i64,
    /// Not accepted from this instant on, Unix ms.
    pub expires_ms: i64,
    /// When redeemed.
    pub used_ms: Option<i64>,
    /// Which MAC redeemed it.
    pub used_by: Option<String>,
}

/// One short code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShortCode {
    /// 3 to 16 digits (typed after `#`).
    pub code: String,
    /// Where it redirects.
    pub url: String,
    /// When made, Unix ms.
    pub created_ms: i64,
}

/// Everything, for `phoneprov activation list` and `GET /api/v1/activation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationListing {
    /// MAC bindings first (by MAC), then serial ranges (by start).
    pub bindings: Vec<Binding>,
    /// Activation codes, newest first.
    pub codes: Vec<IssuedCode>,
    /// Short codes, by digits.
    pub short_codes: Vec<ShortCode>,
}

/// What [`ActivationRepo::use_code`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeUse {
    /// The code is now (or already was) this phone's: its URL.
    Granted(String),
    /// No such code.
    Unknown,
    /// Another phone redeemed it.
    Used,
    /// Unused and past its expiry.
    Expired,
}

/// Storage of the activation service. Every write is atomic; a backend
/// must make [`ActivationRepo::use_code`] single-use across connections
/// and nodes: both backends redeem with one conditional
/// `UPDATE … WHERE used_by IS NULL … RETURNING url` (PostgreSQL re-checks
/// the condition on the row a concurrent redemption just changed, so the
/// second of two racing nodes updates nothing).
pub trait ActivationRepo {
    /// Binds `target` to `url`, replacing an earlier binding of the same
    /// MAC or the same exact range.
    fn bind(
        &mut self,
        target: BindTarget<'_>,
        url: &str,
        model: Option<&str>,
        source: &str,
        now_ms: i64,
    ) -> Result<Binding>;

    /// Removes the binding of exactly this MAC or range; `false` if none.
    fn unbind(&mut self, target: BindTarget<'_>) -> Result<bool>;

    /// Stores `count` codes drawn from `draw` for `url` in one transaction;
    /// a draw that collides with an existing code is drawn again.
    fn insert_codes(
        &mut self,
        url: &str,
        count: usize,
        created_ms: i64,
        expires_ms: i64,
        draw: &mut dyn FnMut() -> String,
    ) -> Result<Vec<IssuedCode>>;

    /// Adds a short code unless its digits exist; returns the stored row
    /// (the existing one when taken) and whether it was inserted.
    fn insert_short_code(
        &mut self,
        digits: &str,
        url: &str,
        now_ms: i64,
    ) -> Result<(ShortCode, bool)>;

    /// Removes a short code; `false` if there was none.
    fn remove_short_code(&mut self, digits: &str) -> Result<bool>;

    /// One short code.
    fn short_code(&self, digits: &str) -> Result<Option<ShortCode>>;

    /// The binding for a phone (R-ACT-1): the MAC's own if its model filter
    /// matches `model` (case-insensitive), else the newest serial range
    /// holding `serial` (upper case) whose model filter matches.
    fn binding_for(&self, mac: Mac, model: &str, serial: Option<&str>) -> Result<Option<Binding>>;

    /// Redeems activation code `code` for `mac` at `now_ms`: single use,
    /// the same phone asking again gets it again.
    fn use_code(&mut self, code: &str, mac: Mac, now_ms: i64) -> Result<CodeUse>;

    /// All bindings, codes and short codes.
    fn activation_listing(&self) -> Result<ActivationListing>;

    /// Revokes an unused activation code: it expires at `now_ms` (one
    /// statement, so a racing redemption either came first and keeps the
    /// code, or finds it expired). Returns the code as it now is, `None`
    /// when there is no such code; a redeemed or already expired code is
    /// returned unchanged.
    fn revoke_code(&mut self, code: &str, now_ms: i64) -> Result<Option<IssuedCode>>;
}

const BINDING_COLS: &str = "id, mac, serial_from, serial_to, model, url, source, created_ms";
const CODE_COLS: &str = "code, url, created_ms, expires_ms, used_ms, used_by";

impl ActivationRepo for Store {
    fn bind(
        &mut self,
        target: BindTarget<'_>,
        url: &str,
        model: Option<&str>,
        source: &str,
        now_ms: i64,
    ) -> Result<Binding> {
        self.tx(|x| {
            let id: i64 = match target {
                BindTarget::Mac(mac) => x.one(
                    "INSERT INTO activation_bindings (mac, model, url, source, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(mac) DO UPDATE SET model = excluded.model, url = excluded.url,
                         source = excluded.source, created_ms = excluded.created_ms
                     RETURNING id",
                    vals![mac.to_string(), model, url, source, now_ms],
                ),
                BindTarget::Serials { from, to } => x.one(
                    "INSERT INTO activation_bindings (serial_from, serial_to, model, url, source, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(serial_from, serial_to) DO UPDATE SET model = excluded.model,
                         url = excluded.url, source = excluded.source, created_ms = excluded.created_ms
                     RETURNING id",
                    vals![from, to, model, url, source, now_ms],
                ),
            }?
            .get(0)?;
            binding_row(&x.one(
                &format!("SELECT {BINDING_COLS} FROM activation_bindings WHERE id = ?1"),
                vals![id],
            )?)
        })
    }

    fn unbind(&mut self, target: BindTarget<'_>) -> Result<bool> {
        let n = self.run(|x| match target {
            BindTarget::Mac(mac) => x.exec(
                "DELETE FROM activation_bindings WHERE mac = ?1",
                vals![mac.to_string()],
            ),
            BindTarget::Serials { from, to } => x.exec(
                "DELETE FROM activation_bindings WHERE serial_from = ?1 AND serial_to = ?2",
                vals![from, to],
            ),
        })?;
        Ok(n > 0)
    }

    fn insert_codes(
        &mut self,
        url: &str,
        count: usize,
        created_ms: i64,
        expires_ms: i64,
        draw: &mut dyn FnMut() -> String,
    ) -> Result<Vec<IssuedCode>> {
        self.tx(|x| {
            let mut out = Vec::with_capacity(count);
            while out.len() < count {
                let code = draw();
                let n = x.exec(
                    "INSERT INTO activation_codes (code, url, created_ms, expires_ms)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT(code) DO NOTHING",
                    vals![code.as_str(), url, created_ms, expires_ms],
                )?;
                if n == 1 {
                    out.push(IssuedCode {
                        code,
                        url: url.to_string(),
                        created_ms,
                        expires_ms,
                        used_ms: None,
                        used_by: None,
                    });
                }
            }
            Ok(out)
        })
    }

    fn insert_short_code(
        &mut self,
        digits: &str,
        url: &str,
        now_ms: i64,
    ) -> Result<(ShortCode, bool)> {
        self.run(|x| {
            let n = x.exec(
                "INSERT INTO activation_short_codes (code, url, created_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(code) DO NOTHING",
                vals![digits, url, now_ms],
            )?;
            let stored = short_row(&x.one(
                "SELECT code, url, created_ms FROM activation_short_codes WHERE code = ?1",
                vals![digits],
            )?)?;
            Ok((stored, n == 1))
        })
    }

    fn remove_short_code(&mut self, digits: &str) -> Result<bool> {
        let n = self.run(|x| {
            x.exec(
                "DELETE FROM activation_short_codes WHERE code = ?1",
                vals![digits],
            )
        })?;
        Ok(n > 0)
    }

    fn short_code(&self, digits: &str) -> Result<Option<ShortCode>> {
        self.run(|x| {
            x.row(
                "SELECT code, url, created_ms FROM activation_short_codes WHERE code = ?1",
                vals![digits],
            )
        })?
        .as_ref()
        .map(short_row)
        .transpose()
    }

    fn binding_for(&self, mac: Mac, model: &str, serial: Option<&str>) -> Result<Option<Binding>> {
        let by_mac = self.run(|x| {
            x.row(
                &format!(
                    "SELECT {BINDING_COLS} FROM activation_bindings
                     WHERE mac = ?1 AND (model IS NULL OR lower(model) = lower(?2))"
                ),
                vals![mac.to_string(), model],
            )
        })?;
        if let Some(b) = by_mac {
            return binding_row(&b).map(Some);
        }
        let Some(serial) = serial.filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        self.run(|x| {
            x.row(
                &format!(
                    "SELECT {BINDING_COLS} FROM activation_bindings
                     WHERE mac IS NULL AND length(serial_from) = length(?1)
                       AND serial_from <= ?1 AND serial_to >= ?1
                       AND (model IS NULL OR lower(model) = lower(?2))
                     ORDER BY id DESC LIMIT 1"
                ),
                vals![serial, model],
            )
        })?
        .as_ref()
        .map(binding_row)
        .transpose()
    }

    fn use_code(&mut self, code: &str, mac: Mac, now_ms: i64) -> Result<CodeUse> {
        let mac = mac.to_string();
        self.run(|x| {
            // The redemption is this one statement: of two racing
            // redemptions (on any connection, any node) one changes the
            // row, the other finds `used_by` set.
            let granted = x.row(
                "UPDATE activation_codes SET used_ms = ?1, used_by = ?2
                 WHERE code = ?3 AND used_by IS NULL AND expires_ms > ?1
                 RETURNING url",
                vals![now_ms, mac.as_str(), code],
            )?;
            if let Some(r) = granted {
                return Ok(CodeUse::Granted(r.get(0)?));
            }
            let row = x.row(
                &format!("SELECT {CODE_COLS} FROM activation_codes WHERE code = ?1"),
                vals![code],
            )?;
            Ok(match row.as_ref().map(code_row).transpose()? {
                None => CodeUse::Unknown,
                Some(c) => match c.used_by {
                    Some(by) if by == mac => CodeUse::Granted(c.url),
                    Some(_) => CodeUse::Used,
                    None => CodeUse::Expired,
                },
            })
        })
    }

    fn activation_listing(&self) -> Result<ActivationListing> {
        self.run(|x| {
            Ok(ActivationListing {
                bindings: x
                    .rows(
                        &format!(
                            "SELECT {BINDING_COLS} FROM activation_bindings
                             ORDER BY mac IS NULL, mac, serial_from, serial_to"
                        ),
                        &[],
                    )?
                    .iter()
                    .map(binding_row)
                    .collect::<Result<_>>()?,
                codes: x
                    .rows(
                        &format!(
                            "SELECT {CODE_COLS} FROM activation_codes ORDER BY created_ms DESC, code"
                        ),
                        &[],
                    )?
                    .iter()
                    .map(code_row)
                    .collect::<Result<_>>()?,
                short_codes: x
                    .rows(
                        "SELECT code, url, created_ms FROM activation_short_codes ORDER BY code",
                        &[],
                    )?
                    .iter()
                    .map(short_row)
                    .collect::<Result<_>>()?,
            })
        })
    }

    fn revoke_code(&mut self, code: &str, now_ms: i64) -> Result<Option<IssuedCode>> {
        self.run(|x| {
            x.exec(
                "UPDATE activation_codes SET expires_ms = ?1
                 WHERE code = ?2 AND used_by IS NULL AND expires_ms > ?1",
                vals![now_ms, code],
            )?;
            x.row(
                &format!("SELECT {CODE_COLS} FROM activation_codes WHERE code = ?1"),
                vals![code],
            )?
            .as_ref()
            .map(code_row)
            .transpose()
        })
    }
}

fn binding_row(r: &Row) -> Result<Binding> {
    Ok(Binding {
        id: r.get(0)?,
        mac: r.get(1)?,
        serial_from: r.get(2)?,
        serial_to: r.get(3)?,
        model: r.get(4)?,
        url: r.get(5)?,
        source: r.get(6)?,
        created_ms: r.get(7)?,
    })
}

fn code_row(r: &Row) -> Result<IssuedCode> {
    Ok(IssuedCode {
        code: r.get(0)?,
        url: r.get(1)?,
        created_ms: r.get(2)?,
        expires_ms: r.get(3)?,
        used_ms: r.get(4)?,
        used_by: r.get(5)?,
    })
}

fn short_row(r: &Row) -> Result<ShortCode> {
    Ok(ShortCode {
        code: r.get(0)?,
        url: r.get(1)?,
        created_ms: r.get(2)?,
    })
}
