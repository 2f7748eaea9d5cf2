//! Small filesystem helpers that keep private keys private.
//!
//! Key files are created with mode 0600 and the CA directory with 0700 at
//! creation time (not chmod-ed afterwards), so there is no window in which a
//! key is world-readable. On non-Unix targets the OS defaults apply.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::PkiError;

/// Whether a file may hold secrets (mode 0600) or is public (mode 0644).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Secrecy {
    Public,
    Private,
}

/// Creates `dir` (and parents); a newly created leaf gets mode 0700.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), PkiError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| PkiError::io("create directory", dir, e))
}

/// Writes `contents` to `path`. Without `overwrite` an existing file is an
/// error (nothing is clobbered by accident); with it the file is replaced and
/// its mode reset to the one `secrecy` asks for. `durable` fsyncs the file:
/// used for the CA files (losing the CA key after a crash would orphan every
/// issued certificate), not for phone certificates (a fleet of thousands
/// would spend its time in fsync).
pub(crate) fn write_file(
    path: &Path,
    contents: &[u8],
    secrecy: Secrecy,
    overwrite: bool,
    durable: bool,
) -> Result<(), PkiError> {
    let mode = match secrecy {
        Secrecy::Private => 0o600,
        Secrecy::Public => 0o644,
    };
    let mut opts = OpenOptions::new();
    opts.write(true);
    if overwrite {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    let mut file = opts
        .open(path)
        .map_err(|e| PkiError::io("write", path, e))?;
    #[cfg(unix)]
    if overwrite {
        // An existing file keeps its old mode on open; force ours.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| PkiError::io("set permissions on", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    file.write_all(contents)
        .and_then(|()| if durable { file.sync_all() } else { Ok(()) })
        .map_err(|e| PkiError::io("write", path, e))
}

/// Refuses a private file (key, database, token) that group or others may
/// read: whoever reads it impersonates the server or every phone. A missing
/// file passes (whoever creates it uses mode 0600). On non-Unix targets
/// every file passes.
pub fn check_private_file(path: &Path) -> Result<(), PkiError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(PkiError::io("read", path, e)),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(PkiError::KeyExposed {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Reads a whole text file.
pub(crate) fn read_text(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|e| PkiError::io("read", path, e))
}
