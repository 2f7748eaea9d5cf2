//! [`ActivationStore`]: bindings, activation codes and short codes, kept in
//! the inventory's database (`<data>/phoneprov.db`) through the store's
//! [`ActivationRepo`] (the SQL and the tables live in `phoneprov-store`,
//! which owns every table of the data directory). This module validates
//! what it is given (URLs, serial ranges, code shapes), draws codes and
//! writes the activation timeline.
//!
//! Times are Unix milliseconds passed in by the caller (`now_ms`), never
//! read here: expiry is tested with an injected clock.

use std::path::Path;
use std::time::Duration;

use phoneprov_rule::ProfileRule;
use phoneprov_store::{
    ActivationRepo, BindTarget, CodeUse, Database, EventKind, Mac, NewEvent, Outcome, Store,
    TimelineWriter,
};

pub use phoneprov_store::{ActivationListing as Listing, Binding, IssuedCode, ShortCode};

use crate::codes::{generate_activation_code, validate_short_code, EnteredCode};
use crate::error::{ActivationError, RedeemError};

/// Most codes one `issue_codes` call makes.
pub const MAX_CODES_PER_CALL: u32 = 10_000;

/// Which devices a binding covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One phone.
    Mac(Mac),
    /// Every serial `s` with `from <= s <= to`, compared as text of the same
    /// length (serials are fixed-width, `88012BA01234`), case-insensitive.
    Serials {
        /// Lower bound, inclusive.
        from: String,
        /// Upper bound, inclusive.
        to: String,
    },
}

impl Target {
    /// Builds a target from the optional pieces the CLI and API receive,
    /// checking the MAC and the range.
    pub fn from_parts(
        mac: Option<&str>,
        serial_from: Option<&str>,
        serial_to: Option<&str>,
    ) -> Result<Target, ActivationError> {
        match (mac, serial_from, serial_to) {
            (Some(m), None, None) => Ok(Target::Mac(Mac::parse(m)?)),
            (None, Some(f), Some(t)) => {
                let (from, to) = validate_serial_range(f, t)?;
                Ok(Target::Serials { from, to })
            }
            _ => Err(ActivationError::Target),
        }
    }
}

/// Checks that `url` is a provisioning rule a phone can be redirected to:
/// it parses (`phoneprov_rule::ProfileRule::parse`), is neither empty nor
/// disabled, and does not point back at `gds://` (a redirect to onboarding
/// would loop). Returns it trimmed.
pub fn validate_url(url: &str) -> Result<String, ActivationError> {
    let bad = |why: String| ActivationError::Url {
        url: url.chars().take(200).collect(),
        why,
    };
    let t = url.trim();
    let rule = ProfileRule::parse(t).map_err(|e| bad(e.to_string()))?;
    if rule.is_empty() || rule.is_disabled() {
        return Err(bad("it is empty or disabled (starts with `#`)".into()));
    }
    if rule
        .alternatives()
        .iter()
        .any(|a| a.url.trim_start().to_ascii_lowercase().starts_with("gds:"))
    {
        return Err(bad(
            "it is `gds://`, which would send the phone back to activation-code entry".into(),
        ));
    }
    Ok(t.to_string())
}

/// Checks a serial range: both ends non-empty, alphanumeric, of the same
/// length, `from <= to`. Returns both in upper case.
pub fn validate_serial_range(from: &str, to: &str) -> Result<(String, String), ActivationError> {
    let (f, t) = (
        from.trim().to_ascii_uppercase(),
        to.trim().to_ascii_uppercase(),
    );
    let bad = |why| ActivationError::SerialRange {
        from: from.chars().take(40).collect(),
        to: to.chars().take(40).collect(),
        why,
    };
    if f.is_empty() || t.is_empty() {
        return Err(bad("both ends are needed"));
    }
    if !f
        .bytes()
        .chain(t.bytes())
        .all(|b| b.is_ascii_alphanumeric())
    {
        return Err(bad("serials are letters and digits only"));
    }
    if f.len() != t.len() {
        return Err(bad(
            "both ends must have the same number of characters (serials compare as fixed-width text)",
        ));
    }
    if f > t {
        return Err(bad(
            "the first serial must not sort after the second; swap them",
        ));
    }
    Ok((f, t))
}

impl Target {
    fn as_bind(&self) -> BindTarget<'_> {
        match self {
            Target::Mac(m) => BindTarget::Mac(*m),
            Target::Serials { from, to } => BindTarget::Serials { from, to },
        }
    }
}

/// The activation side of the data directory's [`Store`]: a connection
/// for the activation tables, and the directory's one timeline writer
/// for the activation events.
#[derive(Debug)]
pub struct ActivationStore {
    store: Store,
    timeline: TimelineWriter,
}

impl ActivationStore {
    /// Opens (creating if needed) the data directory's database.
    pub fn open(dir: &Path) -> Result<ActivationStore, ActivationError> {
        ActivationStore::open_db(&Database::Sqlite(dir.to_path_buf()))
    }

    /// [`open`](Self::open) on a database of either backend (issue 13).
    pub fn open_db(db: &Database) -> Result<ActivationStore, ActivationError> {
        let store = Store::connect(db)?;
        let timeline = TimelineWriter::for_db(db)?;
        Ok(ActivationStore { store, timeline })
    }

    /// The activation data of an open store (the CLI opens it under the
    /// node's migration policy); the events go through the database's
    /// timeline writer.
    pub fn with_store(store: Store) -> Result<ActivationStore, ActivationError> {
        let timeline = TimelineWriter::for_db(store.database())?;
        Ok(ActivationStore { store, timeline })
    }

    /// Like [`open`](Self::open), but fails with the store's `NoDatabase`
    /// error when `dir` holds no database: for commands that read or
    /// remove, where a mistyped `--data` must not create an empty one.
    pub fn open_existing(dir: &Path) -> Result<ActivationStore, ActivationError> {
        let store = Store::open_existing(dir)?;
        let timeline = TimelineWriter::for_dir(dir)?;
        Ok(ActivationStore { store, timeline })
    }

    /// Binds `target` to `url` (validated), replacing an earlier binding of
    /// the same MAC or the same exact range.
    pub fn bind(
        &mut self,
        target: &Target,
        url: &str,
        model: Option<&str>,
        now_ms: i64,
    ) -> Result<Binding, ActivationError> {
        let url = validate_url(url)?;
        let model = model.map(str::trim).filter(|m| !m.is_empty());
        Ok(self
            .store
            .bind(target.as_bind(), &url, model, "operator", now_ms)?)
    }

    /// Removes the binding of exactly this MAC or range; `false` if none.
    pub fn unbind(&mut self, target: &Target) -> Result<bool, ActivationError> {
        Ok(self.store.unbind(target.as_bind())?)
    }

    /// Issues `count` fresh single-use activation codes for `url`, valid for
    /// `ttl` from `now_ms`. A (vanishingly unlikely) collision with an
    /// existing code draws again.
    pub fn issue_codes(
        &mut self,
        url: &str,
        count: u32,
        ttl: Duration,
        now_ms: i64,
    ) -> Result<Vec<IssuedCode>, ActivationError> {
        let url = validate_url(url)?;
        if count == 0 || count > MAX_CODES_PER_CALL {
            return Err(ActivationError::Count(count));
        }
        let expires_ms = now_ms.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        Ok(self.store.insert_codes(
            &url,
            count as usize,
            now_ms,
            expires_ms,
            &mut generate_activation_code,
        )?)
    }

    /// Makes `#digits` redirect to `url` (reusable, no expiry). Refuses
    /// digits already taken by another URL; the same pair again is a no-op.
    pub fn add_short_code(
        &mut self,
        digits: &str,
        url: &str,
        now_ms: i64,
    ) -> Result<ShortCode, ActivationError> {
        validate_short_code(digits)?;
        let url = validate_url(url)?;
        let (existing, inserted) = self.store.insert_short_code(digits, &url, now_ms)?;
        if !inserted && existing.url != url {
            return Err(ActivationError::ShortTaken(digits.to_string()));
        }
        Ok(existing)
    }

    /// Removes a short code; `false` if there was none.
    pub fn remove_short_code(&mut self, digits: &str) -> Result<bool, ActivationError> {
        validate_short_code(digits)?;
        Ok(self.store.remove_short_code(digits)?)
    }

    /// The binding answering a phone's query (R-ACT-1): the MAC's own
    /// binding if its model filter matches, otherwise the newest serial
    /// range holding `serial` whose model filter matches. `None`: no
    /// provider for this phone (it goes Unavailable).
    pub fn lookup(
        &self,
        mac: Mac,
        model: Option<&str>,
        serial: Option<&str>,
    ) -> Result<Option<Binding>, ActivationError> {
        let model = model.map(str::trim).unwrap_or("");
        let serial = serial.map(|s| s.trim().to_ascii_uppercase());
        Ok(self.store.binding_for(mac, model, serial.as_deref())?)
    }

    /// Redeems a typed code for phone `mac` at `now_ms`.
    ///
    /// An activation code is single use: the first phone to redeem it owns
    /// it; the same phone asking again (its answer was lost, or it is
    /// retrying after a failed resync) gets the URL again, any other phone
    /// gets [`RedeemError::Used`]. An unused code past its expiry is
    /// [`RedeemError::Expired`]. Short codes are reusable.
    ///
    /// A successful redemption also binds `mac` to the URL, so the phone's
    /// retry path of firmware 12.0(3) (GDS-Pending → Pending, R-ACT-3),
    /// which asks by MAC, finds its provider again.
    pub fn redeem(
        &mut self,
        mac: Mac,
        code: &EnteredCode,
        now_ms: i64,
    ) -> Result<Result<String, RedeemError>, ActivationError> {
        let url = match code {
            EnteredCode::Short(d) => match self.store.short_code(d)? {
                Some(s) => s.url,
                None => return Ok(Err(RedeemError::Unknown)),
            },
            EnteredCode::Activation(d) => match self.store.use_code(d, mac, now_ms)? {
                CodeUse::Granted(url) => url,
                CodeUse::Unknown => return Ok(Err(RedeemError::Unknown)),
                CodeUse::Used => return Ok(Err(RedeemError::Used)),
                CodeUse::Expired => return Ok(Err(RedeemError::Expired)),
            },
        };
        self.store.bind(
            BindTarget::Mac(mac),
            &url,
            None,
            &format!("code {}", code.masked()),
            now_ms,
        )?;
        Ok(Ok(url))
    }

    /// Revokes an unused activation code: it expires at `now_ms`, so a
    /// phone typing it later is refused as for an expired code. Returns
    /// the code as it now is: `used_by` set means it was redeemed before
    /// (revoking changes nothing then; unbind that phone instead). `None`:
    /// no such code.
    pub fn revoke_code(
        &mut self,
        code: &str,
        now_ms: i64,
    ) -> Result<Option<IssuedCode>, ActivationError> {
        Ok(self.store.revoke_code(code.trim(), now_ms)?)
    }

    /// All bindings, codes and short codes.
    pub fn list(&self) -> Result<Listing, ActivationError> {
        Ok(self.store.activation_listing()?)
    }

    /// Appends an activation event to the phone's timeline
    /// (`EventKind::Activation`) through the timeline writer, and waits for
    /// its commit (blocking).
    pub fn record(
        &mut self,
        mac: Mac,
        at_ms: i64,
        outcome: Option<Outcome>,
        source_ip: Option<std::net::IpAddr>,
        message: String,
    ) -> Result<(), ActivationError> {
        let event = NewEvent {
            mac,
            at_ms,
            kind: EventKind::Activation,
            outcome,
            source_ip,
            message,
        };
        self.timeline.event_committed(event, None)?;
        Ok(())
    }

    /// The inventory handle (for reading the timeline in tests and tools).
    pub fn inventory(&self) -> &Store {
        &self.store
    }
}
