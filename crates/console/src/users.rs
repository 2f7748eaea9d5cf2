//! Console users (`phoneprov user add|passwd|rm|token|list`): the logic behind
//! the CLI, on any [`ConsoleRepo`]. Names are checked here, passwords are
//! hashed here (argon2, [`crate::auth`]); the store keeps the hash.

use phoneprov_store::{now_ms, ConsoleRepo, ConsoleUser, Role, StoreError};

use crate::auth::{hash_password, MIN_PASSWORD};

/// Why a user command failed; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// Bad name.
    #[error("bad user name {0:?}: use 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit")]
    BadName(String),
    /// Too short.
    #[error("password too short: use at least {MIN_PASSWORD} characters")]
    ShortPassword,
    /// Already there.
    #[error("user {0:?} exists; change the password with `phoneprov user passwd {0}`")]
    Exists(String),
    /// Not there.
    #[error("no user {0:?}; list them with `phoneprov user list`")]
    NoSuchUser(String),
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a user name: `[a-z0-9][a-z0-9._-]{0,63}`.
pub fn check_name(name: &str) -> Result<(), UserError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(UserError::BadName(name.to_string()))
    }
}

fn check_password(password: &str) -> Result<(), UserError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(UserError::ShortPassword);
    }
    Ok(())
}

/// Adds a user.
pub fn add(
    repo: &mut impl ConsoleRepo,
    name: &str,
    role: Role,
    password: &str,
) -> Result<(), UserError> {
    check_name(name)?;
    check_password(password)?;
    let now = now_ms();
    let user = ConsoleUser {
        name: name.to_string(),
        role,
        pw_hash: hash_password(password),
        created_ms: now,
        updated_ms: now,
    };
    if repo.add_console_user(&user)? {
        Ok(())
    } else {
        Err(UserError::Exists(name.to_string()))
    }
}

/// Sets a user's password.
pub fn passwd(repo: &mut impl ConsoleRepo, name: &str, password: &str) -> Result<(), UserError> {
    check_password(password)?;
    if repo.set_console_password(name, &hash_password(password))? {
        Ok(())
    } else {
        Err(UserError::NoSuchUser(name.to_string()))
    }
}

/// Removes a user (their sessions end at their next request).
pub fn remove(repo: &mut impl ConsoleRepo, name: &str) -> Result<(), UserError> {
    if repo.remove_console_user(name)? {
        Ok(())
    } else {
        Err(UserError::NoSuchUser(name.to_string()))
    }
}

/// Gives `name` a new REST API token with the user's role (`issue`), and
/// returns it (shown once: only its hash is stored), or revokes the
/// user's token (`!issue`, `None`).
pub fn api_token(
    repo: &mut impl phoneprov_store::ApiTokenRepo,
    name: &str,
    issue: bool,
) -> Result<Option<String>, UserError> {
    let token = issue.then(phoneprov_store::new_api_token);
    if repo.set_api_token(name, token.as_deref())? {
        Ok(token)
    } else {
        Err(UserError::NoSuchUser(name.to_string()))
    }
}

/// Every user, by name.
pub fn list(repo: &impl ConsoleRepo) -> Result<Vec<ConsoleUser>, UserError> {
    Ok(repo.console_users()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use phoneprov_store::Store;

    #[test]
    fn add_passwd_remove_with_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        assert!(matches!(
            add(&mut s, "Bad Name", Role::Admin, "longenough"),
            Err(UserError::BadName(_))
        ));
        assert!(matches!(
            add(&mut s, "ann", Role::Admin, "short"),
            Err(UserError::ShortPassword)
        ));
        assert!(list(&s).unwrap().is_empty(), "nothing written on bad input");
        add(&mut s, "ann", Role::Admin, "longenough").unwrap();
        assert!(matches!(
            add(&mut s, "ann", Role::Helpdesk, "longenough"),
            Err(UserError::Exists(_))
        ));
        let h1 = s.console_user("ann").unwrap().unwrap().pw_hash;
        assert!(crate::auth::verify_password(&h1, "longenough"));
        passwd(&mut s, "ann", "different1").unwrap();
        let h2 = s.console_user("ann").unwrap().unwrap().pw_hash;
        assert!(crate::auth::verify_password(&h2, "different1"));
        assert!(matches!(
            passwd(&mut s, "bob", "different1"),
            Err(UserError::NoSuchUser(_))
        ));
        remove(&mut s, "ann").unwrap();
        assert!(matches!(
            remove(&mut s, "ann"),
            Err(UserError::NoSuchUser(_))
        ));
    }
}
