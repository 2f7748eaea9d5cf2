//! Who may do what (issue 14 item 2): the one rule book of the console and
//! the admin API, the secret-variable predicate, and the console users'
//! API tokens (table `console_users`, column `api_token`, schema v11).
//!
//! * [`Role::may`] decides an [`Action`] for a role. The console's pages
//!   and the REST API both ask it, so a help desk user can do the same
//!   through either door: view devices, status and timelines, push a
//!   resync, queue the read-only tasks of [`READ_ONLY_RPCS`] and cancel
//!   tasks; never see a key or a secret variable, change a template, a
//!   variable, the inventory, a rollout, activation or certificates.
//! * [`is_secret_var`] says which device variables hold a secret (a name
//!   containing `pass`, `secret` or `key`, in any case: `sip_password`,
//!   `ldap_secret`, `api_key`). The search index's triggers skip the same
//!   names ([`SECRET_NAME_PARTS`], checked against the schema text by a
//!   test), views for the help desk show [`SECRET_MASK`] instead.
//! * API tokens: `phoneprov user token NAME` gives a console user a bearer
//!   token for the REST API with the user's role. The token is 32 bytes
//!   from the OS-seeded CSPRNG, printed once as 64 hex digits; the store
//!   keeps only its SHA-256 ([`ApiTokenRepo`]). A plain hash (no salt, no
//!   argon2) is enough for a 256-bit random token, which no dictionary
//!   holds, and it is what lets a request's token be found by an indexed
//!   lookup. Removing the user removes the token with the row.

use sha2::{Digest as _, Sha256};

use crate::console::{ConsoleUser, Role};
use crate::db::vals;
use crate::error::Result;
use crate::model::now_ms;
use crate::store::Store;

/// RPCs a help desk user may queue: they only read from the phone.
pub const READ_ONLY_RPCS: &[&str] = &[
    "GetParameterValues",
    "GetParameterNames",
    "GetParameterAttributes",
    "GetRPCMethods",
];

/// Parts of a variable name that mark its value as secret (matched
/// without regard to case).
pub const SECRET_NAME_PARTS: &[&str] = &["pass", "secret", "key"];

/// What a secret variable's value reads as where it is hidden.
pub const SECRET_MASK: &str = "(secret)";

/// Whether the device variable `name` holds a secret (`sip_password`,
/// `SIP_Password`, `ldap_secret`, `api_key`): hidden from help desk users
/// and never written to logs or the search index.
pub fn is_secret_var(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAME_PARTS.iter().any(|p| lower.contains(p))
}

/// Something a console or API user asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// Read devices, status, timelines, tasks, templates, jobs, rollouts.
    View,
    /// Push a resync or a connection request (one device or a bulk job).
    Resync,
    /// Queue an ACS task with this RPC (one device or a bulk job).
    Task(&'a str),
    /// Cancel a queued task or a bulk job.
    Cancel,
    /// See or export device keys and secret variables, rotate a key, issue
    /// a client certificate.
    Keys,
    /// Add, remove, import, export or approve devices, change their
    /// fields or variables.
    EditDevices,
    /// Change, remove or preview a change of a template.
    EditTemplates,
    /// Start, pause, resume or roll back a firmware rollout.
    Rollouts,
    /// Manage activation codes and bindings.
    Activation,
}

impl Action<'_> {
    /// What it is, for "help desk users cannot …".
    pub fn describe(&self) -> String {
        match self {
            Action::View => "read the inventory".into(),
            Action::Resync => "push a resync".into(),
            Action::Task(rpc) => format!(
                "queue {rpc} (help desk users queue read-only tasks only: {})",
                READ_ONLY_RPCS.join(", ")
            ),
            Action::Cancel => "cancel tasks or jobs".into(),
            Action::Keys => {
                "see or export keys and secret variables, rotate keys or issue client certificates"
                    .into()
            }
            Action::EditDevices => {
                "add, remove, import, export or change devices and their variables".into()
            }
            Action::EditTemplates => "change templates".into(),
            Action::Rollouts => "start or change firmware rollouts".into(),
            Action::Activation => "manage activation".into(),
        }
    }
}

impl Role {
    /// Whether this role may do `action`: the rule book of the console and
    /// the API alike.
    pub fn may(self, action: Action<'_>) -> bool {
        match self {
            Role::Admin => true,
            Role::Helpdesk => match action {
                Action::View | Action::Resync | Action::Cancel => true,
                Action::Task(rpc) => READ_ONLY_RPCS.contains(&rpc),
                Action::Keys
                | Action::EditDevices
                | Action::EditTemplates
                | Action::Rollouts
                | Action::Activation => false,
            },
        }
    }
}

/// The stored form of an API token: its SHA-256, in hex.
pub fn api_token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new API token: 32 random bytes as 64 hex digits.
pub fn new_api_token() -> String {
    use rand::RngCore as _;
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// The console users' API tokens.
pub trait ApiTokenRepo {
    /// Stores `token`'s hash as `name`'s API token, replacing any earlier
    /// one (`None`: revoke); `false` if there is no such user.
    fn set_api_token(&mut self, name: &str, token: Option<&str>) -> Result<bool>;
    /// The user whose API token is `token`, if any.
    fn user_by_api_token(&self, token: &str) -> Result<Option<ConsoleUser>>;
}

impl ApiTokenRepo for Store {
    fn set_api_token(&mut self, name: &str, token: Option<&str>) -> Result<bool> {
        let hash = token.map(api_token_hash);
        let n = self.tx(|x| {
            x.exec(
                "UPDATE console_users SET api_token = ?2, updated_ms = ?3 WHERE name = ?1",
                vals![name, hash.as_deref(), now_ms()],
            )
        })?;
        Ok(n == 1)
    }

    fn user_by_api_token(&self, token: &str) -> Result<Option<ConsoleUser>> {
        let hash = api_token_hash(token);
        self.run(|x| {
            x.row(
                &format!(
                    "SELECT {} FROM console_users WHERE api_token = ?1",
                    crate::console::USER_COLS
                ),
                vals![&hash],
            )
        })?
        .as_ref()
        .map(crate::console::decode_user)
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestDb;
    use crate::ConsoleRepo as _;

    #[test]
    fn help_desk_may_view_resync_and_read_only_tasks_only() {
        let h = Role::Helpdesk;
        assert!(h.may(Action::View) && h.may(Action::Resync) && h.may(Action::Cancel));
        assert!(h.may(Action::Task("GetParameterValues")));
        for a in [
            Action::Task("SetParameterValues"),
            Action::Task("Reboot"),
            Action::Keys,
            Action::EditDevices,
            Action::EditTemplates,
            Action::Rollouts,
            Action::Activation,
        ] {
            assert!(!h.may(a), "{a:?}");
            assert!(Role::Admin.may(a), "{a:?}");
        }
    }

    #[test]
    fn secret_names_in_any_case() {
        for n in [
            "sip_password",
            "SIP_Password",
            "ldap_secret",
            "api_key",
            "Passphrase",
        ] {
            assert!(is_secret_var(n), "{n}");
        }
        for n in ["user", "display_name", "sip_contact", "firmware_version"] {
            assert!(!is_secret_var(n), "{n}");
        }
    }

    /// The search index's triggers skip the same names as the predicate.
    #[test]
    fn the_search_index_skips_the_same_names() {
        for part in SECRET_NAME_PARTS {
            assert!(
                crate::schema::SEARCH_TRIGGER_TEXTS
                    .iter()
                    .all(|t| t.contains(&format!("NOT LIKE '%{part}%'"))),
                "{part}"
            );
        }
    }

    on_both! {
        fn api_tokens_are_stored_hashed_replaced_and_gone_with_the_user(db: &TestDb) {
            let mut s = db.store();
            let user = |name: &str, role| ConsoleUser {
                name: name.into(),
                role,
                pw_hash: "h".into(),
                created_ms: 1,
                updated_ms: 1,
            };
            assert!(s.add_console_user(&user("hd", Role::Helpdesk)).unwrap());
            assert!(s.add_console_user(&user("ad", Role::Admin)).unwrap());
            let t1 = new_api_token();
            assert_eq!(t1.len(), 64);
            assert!(!s.set_api_token("nobody", Some(&t1)).unwrap());
            assert!(s.set_api_token("hd", Some(&t1)).unwrap());
            let got = s.user_by_api_token(&t1).unwrap().unwrap();
            assert_eq!((got.name.as_str(), got.role), ("hd", Role::Helpdesk));
            // Only the hash is stored.
            let stored: Option<String> = s
                .run(|x| x.row("SELECT api_token FROM console_users WHERE name = 'hd'", vals![]))
                .unwrap()
                .unwrap()
                .get(0)
                .unwrap();
            assert_eq!(stored.as_deref(), Some(api_token_hash(&t1).as_str()));
            assert_ne!(stored.as_deref(), Some(t1.as_str()));
            // A new token replaces the old one.
            let t2 = new_api_token();
            assert!(s.set_api_token("hd", Some(&t2)).unwrap());
            assert!(s.user_by_api_token(&t1).unwrap().is_none());
            assert_eq!(s.user_by_api_token(&t2).unwrap().unwrap().name, "hd");
            assert!(s.user_by_api_token("").unwrap().is_none());
            // Revoked, then gone with the user.
            assert!(s.set_api_token("hd", None).unwrap());
            assert!(s.user_by_api_token(&t2).unwrap().is_none());
            let t3 = new_api_token();
            assert!(s.set_api_token("ad", Some(&t3)).unwrap());
            assert!(s.remove_console_user("ad").unwrap());
            assert!(s.user_by_api_token(&t3).unwrap().is_none());
        }
    }
}
