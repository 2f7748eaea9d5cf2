//! The admin token: a random bearer token kept in `DATA/admin.token`.
//!
//! Generated at first use with 256 bits from the OS-seeded CSPRNG, written
//! with mode 0600 through a temporary file hard-linked into place, so two
//! processes starting at once agree on one token and a reader never sees a
//! half-written file. An existing token file readable by group or others is
//! refused: whoever can read it administers every phone.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use rand::RngCore as _;

/// File name of the token inside the data directory.
pub const TOKEN_FILE: &str = "admin.token";

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
    /// The file is readable by others.
    #[error("admin token file {} has mode {mode:o}, readable by other users; run `chmod 600 {}`", path.display(), path.display())]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
}

/// Returns the admin token of `data_dir`, creating the directory and a new
/// token file (0600) if there is none.
pub fn ensure_admin_token(data_dir: &Path) -> Result<String, TokenError> {
    let path = data_dir.join(TOKEN_FILE);
    if let Some(tok) = read_token(&path)? {
        return Ok(tok);
    }
    let io = |action, cause| TokenError::Io {
        action,
        path: path.clone(),
        cause,
    };
    fs::create_dir_all(data_dir).map_err(|e| io("create the directory of", e))?;
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();

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
    // link() fails if the name exists: exactly one concurrent creator wins.
    let linked = fs::hard_link(&tmp, &path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(token),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            read_token(&path)?.ok_or(TokenError::Bad { path })
        }
        Err(e) => Err(io("create", e)),
    }
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
}
