//! The admin token: a random bearer token kept in the database (secret
//! [`ADMIN_TOKEN_SECRET`], `phoneprov_store::SecretRepo`) and mirrored in
//! `DATA/admin.token`.
//!
//! The database is the source of truth (issue 13): nodes sharing one
//! database share one token. The file stays, for two reasons:
//! * **import / bootstrap**: an installation from before the token moved
//!   to the database keeps its token. At start, when the database holds
//!   none, the token of `DATA/admin.token` (a new one if there is no file)
//!   is stored, and the first process to store one wins a race
//!   ([`admin_token`]);
//! * **scripts that read it**: after start the file always holds the
//!   database's token (rewritten, with a warning, when it held another one,
//!   e.g. a second node's own older token). Deleting the file no longer
//!   rotates the token.
//!
//! A new token is 256 bits from the OS-seeded CSPRNG, written with mode
//! 0600 through a temporary file linked (or renamed) into place, so a
//! reader never sees a half-written file. An existing token file readable
//! by group or others is refused: whoever can read it administers every
//! phone.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use rand::RngCore as _;

/// File name of the token inside the data directory.
pub const TOKEN_FILE: &str = "admin.token";

/// Name of the admin token in the database's secrets.
pub const ADMIN_TOKEN_SECRET: &str = "admin-token";

/// Why the token could not be read or created.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Reading, creating or linking the file failed.
    #[error("cannot {action} admin token file {}: {cause}; make the data directory writable by the server's user (or pass another --data DIR)", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The file exists but holds no usable token.
    #[error("admin token file {} is empty or not one line of text; delete it and a new token is generated at the next start", path.display())]
    Bad {
        /// The file.
        path: PathBuf,
    },
    /// The database could not be read or written.
    #[error("cannot read or store the admin token in the database: {0}")]
    Store(#[from] phoneprov_store::StoreError),
    /// The database holds a token that is not one word of text.
    #[error("the admin token stored in the database is not one word of text; delete the secret `admin-token` and restart")]
    BadStored,
    /// The file is readable by others.
    #[error("admin token file {} has mode {mode:o}, readable by other users; run `chmod 600 {}`", path.display(), path.display())]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// The admin token of the installation whose database is `db` and whose
/// data directory is `data_dir`: the database's, or (none stored yet) the
/// file's or a new one, stored now; the file is brought in line with it.
pub fn admin_token(
    data_dir: &Path,
    db: &mut impl phoneprov_store::SecretRepo,
) -> Result<String, TokenError> {
    let stored = match db.secret(ADMIN_TOKEN_SECRET)? {
        Some(v) => v,
        None => {
            let local = ensure_admin_token(data_dir)?;
            db.ensure_secret(ADMIN_TOKEN_SECRET, local.as_bytes())?
        }
    };
    let token = String::from_utf8(stored).map_err(|_| TokenError::BadStored)?;
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(TokenError::BadStored);
    }
    let path = data_dir.join(TOKEN_FILE);
    match read_token(&path)? {
        Some(t) if t == token => {}
        found => {
            if found.is_some() {
                tracing::warn!(
                    file = %path.display(),
                    "the admin token file held another token than the database's; rewriting it with the database's"
                );
            }
            write_token_file(data_dir, &token, true)?;
        }
    }
    Ok(token)
}

/// Returns the token of `data_dir`'s token file, creating the directory
/// and a new token file (0600) if there is none. [`admin_token`] is what
/// the server uses; this is its import path.
pub fn ensure_admin_token(data_dir: &Path) -> Result<String, TokenError> {
    let path = data_dir.join(TOKEN_FILE);
    if let Some(tok) = read_token(&path)? {
        return Ok(tok);
    }
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    match write_token_file(data_dir, &token, false) {
        Ok(()) => Ok(token),
        Err(TokenError::Io { cause, .. }) if cause.kind() == std::io::ErrorKind::AlreadyExists => {
            read_token(&path)?.ok_or(TokenError::Bad { path })
        }
        Err(e) => Err(e),
    }
}

/// Writes `token` to `data_dir`'s token file (0600) through a temporary
/// file: linked into place when `replace` is false (an existing file wins,
/// reported as `AlreadyExists`), renamed over it when true.
fn write_token_file(data_dir: &Path, token: &str, replace: bool) -> Result<(), TokenError> {
    let path = data_dir.join(TOKEN_FILE);
    let io = |action, cause| TokenError::Io {
        action,
        path: path.clone(),
        cause,
    };
    fs::create_dir_all(data_dir).map_err(|e| io("create the directory of", e))?;
    let tmp = data_dir.join(format!(".{TOKEN_FILE}.{}.tmp", std::process::id()));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let write = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(format!("{token}\n").as_bytes())?;
        f.sync_all()
    })();
    if let Err(e) = write {
        let _ = fs::remove_file(&tmp);
        return Err(io("write", e));
    }
    if replace {
        return fs::rename(&tmp, &path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io("replace", e)
        });
    }
    // link() fails if the name exists: exactly one concurrent creator wins.
    let linked = fs::hard_link(&tmp, &path);
    let _ = fs::remove_file(&tmp);
    linked.map_err(|e| io("create", e))
}

fn read_token(path: &Path) -> Result<Option<String>, TokenError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(cause) => {
            return Err(TokenError::Io {
                action: "read",
                path: path.to_path_buf(),
                cause,
            })
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(path)
            .map_err(|cause| TokenError::Io {
                action: "read",
                path: path.to_path_buf(),
                cause,
            })?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(TokenError::Exposed {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let tok = text.trim();
    if tok.is_empty() || tok.contains(char::is_whitespace) {
        return Err(TokenError::Bad {
            path: path.to_path_buf(),
        });
    }
    Ok(Some(tok.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_created_once_with_mode_0600_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let a = ensure_admin_token(&data).unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(ensure_admin_token(&data).unwrap(), a);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(data.join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(&data).unwrap().count(), 1);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(ensure_admin_token(other.path()).unwrap(), a);
    }

    #[cfg(unix)]
    #[test]
    fn exposed_or_empty_token_files_are_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKEN_FILE);
        fs::write(&path, "abc\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let e = ensure_admin_token(dir.path()).unwrap_err();
        assert!(matches!(e, TokenError::Exposed { mode: 0o644, .. }), "{e}");
        assert!(e.to_string().contains("chmod 600"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(ensure_admin_token(dir.path()).unwrap(), "abc");
        fs::write(&path, "  \n").unwrap();
        assert!(matches!(
            ensure_admin_token(dir.path()),
            Err(TokenError::Bad { .. })
        ));
    }

    /// An installation from before issue 13: its token file's token moves
    /// into the database and stays the token.
    #[test]
    fn an_existing_token_file_is_imported_into_the_database() {
        use phoneprov_store::SecretRepo as _;
        let dir = tempfile::tempdir().unwrap();
        let old = ensure_admin_token(dir.path()).unwrap();
        let mut db = phoneprov_store::Store::open(dir.path()).unwrap();
        assert_eq!(admin_token(dir.path(), &mut db).unwrap(), old);
        assert_eq!(
            db.secret(ADMIN_TOKEN_SECRET).unwrap().as_deref(),
            Some(old.as_bytes())
        );
    }

    /// Two nodes with their own data directories on one database agree on
    /// one token, and each one's file holds it (the second node's own older
    /// token file is rewritten).
    #[test]
    fn nodes_sharing_a_database_share_the_token_and_their_files_follow_it() {
        let db_dir = tempfile::tempdir().unwrap();
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let b_own = ensure_admin_token(b.path()).unwrap();
        let mut db = phoneprov_store::Store::open(db_dir.path()).unwrap();
        let ta = admin_token(a.path(), &mut db).unwrap();
        assert_eq!(
            ta.len(),
            64,
            "a new token when neither file nor database has one"
        );
        let mut db2 = phoneprov_store::Store::open(db_dir.path()).unwrap();
        let tb = admin_token(b.path(), &mut db2).unwrap();
        assert_eq!(tb, ta);
        assert_ne!(b_own, ta);
        for d in [a.path(), b.path()] {
            assert_eq!(
                fs::read_to_string(d.join(TOKEN_FILE)).unwrap().trim(),
                ta,
                "{}",
                d.display()
            );
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = fs::metadata(d.join(TOKEN_FILE))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600);
            }
        }
        // A deleted file comes back with the database's token.
        fs::remove_file(a.path().join(TOKEN_FILE)).unwrap();
        assert_eq!(admin_token(a.path(), &mut db).unwrap(), ta);
        assert_eq!(ensure_admin_token(a.path()).unwrap(), ta);
    }
}
