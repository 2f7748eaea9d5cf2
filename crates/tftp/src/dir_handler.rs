//! [`DirHandler`]: serves files under one root directory, refusing every way
//! out of it (R-TFTP-1: paths are relative to the server's virtual root).
//!
//! Checks, in order: NUL, backslash and `%` (no escape through Windows
//! separators or URL escapes such as `%2e%2e`) are refused with ERROR 2; a
//! leading `/` is taken relative to the root (phones often ask for
//! `/file.cfg`); a `..` component is refused with ERROR 2; the joined path is
//! then canonicalized (resolving symlinks) and must still lie inside the
//! canonical root, else ERROR 2.

use crate::server::{Content, Handler, HandlerError, ReadRequest};
use bytes::Bytes;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Files at most this big are read into memory in one go; bigger ones are
/// streamed.
const SMALL_FILE: u64 = 256 * 1024;

/// Serves the files of a directory tree.
#[derive(Debug, Clone)]
pub struct DirHandler {
    root: PathBuf,
}

impl DirHandler {
    /// Serves `root`, which must exist and be a directory.
    pub fn new(root: impl AsRef<Path>) -> io::Result<DirHandler> {
        let root = root.as_ref();
        let canonical = std::fs::canonicalize(root).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "TFTP root {} cannot be opened ({e}): create it or pass an existing directory",
                    root.display()
                ),
            )
        })?;
        if !canonical.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "TFTP root {} is not a directory: pass a directory",
                    root.display()
                ),
            ));
        }
        Ok(DirHandler { root: canonical })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Lexical checks and normalisation: the relative components of `requested`.
fn components(requested: &str) -> Result<Vec<&str>, HandlerError> {
    if requested.contains(['\0', '\\', '%']) {
        return Err(HandlerError::AccessDenied(
            "file name contains NUL, backslash or %: not allowed".into(),
        ));
    }
    let mut parts = Vec::new();
    for part in requested.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(HandlerError::AccessDenied(
                    "file name contains \"..\": not allowed".into(),
                ))
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(HandlerError::NotFound("no file name given".into()));
    }
    Ok(parts)
}

/// Maps a requested name to an existing regular file inside `root` (which
/// must be canonical). Every refusal (no such file, a name with `..`, a
/// symlink out of the root, not a regular file) is the same
/// [`HandlerError::not_served`], so the answer says nothing about what
/// exists outside the root.
pub fn resolve_path(root: &Path, requested: &str) -> Result<PathBuf, HandlerError> {
    let mut path = root.to_path_buf();
    path.extend(components(requested).map_err(|_| HandlerError::not_served())?);
    let canonical = std::fs::canonicalize(&path).map_err(|_| HandlerError::not_served())?;
    if !canonical.starts_with(root) || !canonical.is_file() {
        return Err(HandlerError::not_served());
    }
    Ok(canonical)
}

/// Maps a requested upload name to a new file inside `root` (canonical):
/// same lexical rules, the parent must exist inside the root, the file must
/// not exist yet (ERROR 6).
pub(crate) fn resolve_new_path(root: &Path, requested: &str) -> Result<PathBuf, HandlerError> {
    let parts = components(requested)?;
    let (name, dirs) = parts.split_last().expect("components() is never empty");
    let mut parent = root.to_path_buf();
    parent.extend(dirs);
    let parent = std::fs::canonicalize(&parent)
        .map_err(|e| HandlerError::AccessDenied(format!("{requested}: directory: {e}")))?;
    if !parent.starts_with(root) {
        return Err(HandlerError::AccessDenied(format!(
            "{requested}: outside the upload directory"
        )));
    }
    let path = parent.join(name);
    if path.symlink_metadata().is_ok() {
        return Err(HandlerError::Exists(format!("{requested}: already exists")));
    }
    Ok(path)
}

fn open(root: &Path, requested: &str) -> Result<Content, HandlerError> {
    let path = resolve_path(root, requested)?;
    let mut file = std::fs::File::open(&path).map_err(|_| HandlerError::not_served())?;
    let size = file
        .metadata()
        .map_err(|e| HandlerError::AccessDenied(format!("{requested}: {e}")))?
        .len();
    if size <= SMALL_FILE {
        let mut data = Vec::with_capacity(size as usize);
        file.read_to_end(&mut data)
            .map_err(|e| HandlerError::AccessDenied(format!("{requested}: {e}")))?;
        return Ok(Content::Bytes(Bytes::from(data)));
    }
    Ok(Content::Reader {
        reader: Box::pin(tokio::fs::File::from_std(file)),
        size: Some(size),
    })
}

impl Handler for DirHandler {
    async fn read(&self, request: ReadRequest) -> Result<Content, HandlerError> {
        let root = self.root.clone();
        // One blocking hop for canonicalize + open + small read.
        tokio::task::spawn_blocking(move || open(&root, &request.path))
            .await
            .map_err(|e| HandlerError::Other(format!("file lookup task failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_slash_is_relative_to_root() {
        assert_eq!(
            components("/a//b/./c.cfg").unwrap(),
            vec!["a", "b", "c.cfg"]
        );
        assert!(matches!(
            components("a/../b"),
            Err(HandlerError::AccessDenied(_))
        ));
        assert!(matches!(components("/"), Err(HandlerError::NotFound(_))));
    }
}
