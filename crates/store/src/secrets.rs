//! [`SecretRepo`]: named server secrets kept in the database (version 5,
//! table `secrets`), so that nodes sharing one database (issue 13) share
//! them too: the Digest nonce secret (a nonce issued by one node is valid
//! on another), admin tokens and, on PostgreSQL, the development CA
//! (`development-ca`: certificate and key, written into each node's
//! `ca/` by the server at start, so every node signs with one CA).
//! `DATA/admin.token` stays as the import path and a mirror for scripts.
//!
//! [`SecretRepo::ensure_secret`] is "insert unless present, then read":
//! two processes racing to create the same secret both end up with the
//! one stored first (SQLite `ON CONFLICT DO NOTHING` under the write lock;
//! the same statement in PostgreSQL).

use crate::db::vals;
use crate::error::Result;
use crate::model::now_ms;
use crate::store::Store;

/// Storage of named secrets.
pub trait SecretRepo {
    /// The secret called `name`, if stored.
    fn secret(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// The secret called `name`: the stored one, or `fresh` stored now
    /// when there is none (the first writer wins a race).
    fn ensure_secret(&mut self, name: &str, fresh: &[u8]) -> Result<Vec<u8>>;
}

impl SecretRepo for Store {
    fn secret(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.run(|x| x.row("SELECT value FROM secrets WHERE name = ?1", vals![name]))?
            .map(|r| r.get(0))
            .transpose()
    }

    fn ensure_secret(&mut self, name: &str, fresh: &[u8]) -> Result<Vec<u8>> {
        self.tx(|x| {
            x.exec(
                "INSERT INTO secrets (name, value, created_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(name) DO NOTHING",
                vals![name, fresh, now_ms()],
            )?;
            x.one("SELECT value FROM secrets WHERE name = ?1", vals![name])?
                .get(0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestDb;

    on_both! {
        /// The first secret stored under a name wins, across connections.
        fn the_first_stored_secret_wins_across_connections(db: &TestDb) {
            let mut a = db.store();
            let mut b = db.store();
            assert_eq!(a.secret("digest-nonce").unwrap(), None);
            assert_eq!(a.ensure_secret("digest-nonce", b"first").unwrap(), b"first");
            assert_eq!(
                b.ensure_secret("digest-nonce", b"second").unwrap(),
                b"first"
            );
            assert_eq!(
                b.secret("digest-nonce").unwrap().as_deref(),
                Some(&b"first"[..])
            );
            assert_eq!(b.ensure_secret("admin-token", b"t").unwrap(), b"t");
        }
    }
}
