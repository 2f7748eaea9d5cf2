//! `phoneprov db status|migrate` and `serve`'s database checks at start
//! (issue 13 items 1-2), on SQLite (the schema version set with the
//! `sqlite3` program) and on a throwaway PostgreSQL cluster
//! (`phoneprov_testpeers::pg`).

mod serve_support;

use std::path::Path;
use std::process::{Command, Output};

use serve_support::*;

/// Runs `phoneprov ARGS` with no system configuration and no database
/// URL from the environment.
fn run(args: &[&str]) -> Output {
    let none = tempfile::tempdir().unwrap();
    Command::new(BIN)
        .args(args)
        .env_remove("PHONEPROV_DATA")
        .env_remove("PHONEPROV_CONFIG")
        .env_remove("PHONEPROV_DATABASE_URL")
        .env("PHONEPROV_SYSCONFDIR", none.path().join("none"))
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn set_user_version(data: &Path, v: i64) {
    let db = data.join("phoneprov.db");
    let out = peer(
        "sqlite3",
        &[db.to_str().unwrap(), &format!("PRAGMA user_version = {v};")],
    );
    assert!(out.status.success(), "{:?}", text(&out));
}

/// `serve` that is expected to stop at start: (exit code, stderr).
fn serve_fails(args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    all.extend_from_slice(ALL_PORT0);
    let out = run(&all);
    (out.status.code(), text(&out).1)
}

#[test]
fn status_changes_nothing_and_migrate_creates_the_schema_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let out = run(&["db", "status", "--data", d]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("no schema yet") && stdout.contains("db migrate"),
        "{stdout}"
    );
    assert!(!data.exists(), "db status created the data directory");

    let out = run(&["db", "migrate", "--data", d]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("migrated from version 0 to"), "{stdout}");

    let out = run(&["db", "status", "--json", "--data", d]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "current");
    assert_eq!(v["backend"], "sqlite");
    assert_eq!(v["found"], v["known"]);
    assert!(v["found"].as_i64().unwrap() >= 5, "{v}");

    // Again: nothing to do, still exit 0.
    let out = run(&["db", "migrate", "--data", d]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).0.contains("up to date"), "{:?}", text(&out));
}

/// A schema written by a newer phoneprov: `db status` says so, `serve`
/// and `db migrate` refuse it with one line and exit 2.
#[test]
fn a_newer_schema_is_refused_by_serve_and_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    assert!(run(&["db", "migrate", "--data", d]).status.success());
    set_user_version(&data, 999);
    let out = run(&["db", "status", "--data", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).0.contains("upgrade phoneprov"),
        "{:?}",
        text(&out)
    );
    let (code, err) = serve_fails(&["--data", d]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("999"), "{err}");
    let out = run(&["db", "migrate", "--data", d]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out).1.lines().count(), 1, "{:?}", text(&out));
}

/// An older schema: `serve` migrates it by default on SQLite, but not
/// with `auto_migrate = false` unless started with `--migrate`.
#[test]
fn an_older_schema_is_migrated_only_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    assert!(run(&["db", "migrate", "--data", d]).status.success());
    // Version 5 (secrets) is `CREATE TABLE IF NOT EXISTS`: re-running it
    // on a file marked 4 is what a real 4 → 5 upgrade does.
    set_user_version(&data, 4);
    let cfg = dir.path().join("no-auto.toml");
    std::fs::write(&cfg, "[database]\nauto_migrate = false\n").unwrap();
    let c = cfg.to_str().unwrap();
    let (code, err) = serve_fails(&["--data", d, "--config", c]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("older") && err.contains("--migrate"), "{err}");
    let out = run(&["db", "status", "--json", "--data", d]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["found"].as_i64(), v["state"].as_str()),
        (Some(4), Some("older"))
    );

    let mut s = start_with(
        Some("[database]\nauto_migrate = false\n"),
        &["--migrate"],
        |dd| {
            std::fs::remove_dir_all(dd).unwrap();
            copy_dir(&data, dd);
        },
    );
    s.signal("TERM");
    assert_eq!(s.wait_exit(std::time::Duration::from_secs(20)), Some(0));
    let out = run(&[
        "db",
        "status",
        "--json",
        "--data",
        s.data().to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "current", "serve --migrate migrated: {v}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Nothing listens on the URL's port: one line naming the database
/// without its password, exit 2; the same through the environment.
#[test]
fn an_unreachable_database_at_start_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let port = phoneprov_testpeers::free_port();
    let url = format!("postgres://pp:hunter2@127.0.0.1:{port}/pp");
    let (code, err) = serve_fails(&["--data", d.to_str().unwrap(), "--database-url", &url]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("hunter2"), "password in the error: {err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("PostgreSQL"),
        "{err}"
    );

    let out = Command::new(BIN)
        .args(["db", "status", "--data", d.to_str().unwrap()])
        .env("PHONEPROV_DATABASE_URL", &url)
        .env("PHONEPROV_SYSCONFDIR", dir.path().join("none"))
        .output()
        .unwrap();
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

/// The same commands on PostgreSQL: an empty database has no schema,
/// `serve` refuses it without `--migrate` (PostgreSQL's default), `db
/// migrate` creates it, then `serve` starts on it.
#[test]
fn postgres_needs_an_explicit_migration_then_serves() {
    let url = phoneprov_testpeers::pg().fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let d = d.to_str().unwrap();
    let out = run(&[
        "db",
        "status",
        "--json",
        "--data",
        d,
        "--database-url",
        &url,
    ]);
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["backend"].as_str(), v["state"].as_str()),
        (Some("postgres"), Some("empty"))
    );

    let (code, err) = serve_fails(&["--data", d, "--database-url", &url]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("db migrate"), "{err}");

    let out = run(&["db", "migrate", "--data", d, "--database-url", &url]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let out = run(&["db", "status", "--data", d, "--database-url", &url]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));

    let mut s = start_with(None, &["--database-url", &url], |_| {});
    s.signal("TERM");
    assert_eq!(s.wait_exit(std::time::Duration::from_secs(20)), Some(0));
}

/// A login the database refuses (a user it does not know; the throwaway
/// cluster trusts loopback, so a wrong password is refused the same way,
/// SQLSTATE class 28) and a database that does not exist: one line, exit
/// 2, no password in it.
#[test]
fn a_refused_login_at_start_is_one_line_and_exit_2() {
    let pg = phoneprov_testpeers::pg();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let d = d.to_str().unwrap();
    for (url, says) in [
        (
            format!("postgres://nobody:hunter2@127.0.0.1:{}/postgres", pg.port()),
            "nobody",
        ),
        (pg.url("no_such_database"), "no_such_database"),
    ] {
        let (code, err) = serve_fails(&["--data", d, "--database-url", &url]);
        assert_eq!(code, Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains(says) && err.contains("check the URL"), "{err}");
    }
}

/// `db copy` both ways through the CLI: devices with their keys arrive,
/// the counts are printed, a non-empty target is refused without
/// `--force` (one line, exit 2) and replaced with it.
#[test]
fn db_copy_moves_an_installation_to_postgres_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    add_device(&data, MAC, &["--var", "display_name=Alice"]);
    add_device(&data, OTHER_MAC, &[]);
    let show = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["device", "show", MAC, "--json"];
        all.extend_from_slice(args);
        let out = run(&all);
        assert!(out.status.success(), "{:?}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let before = show(&["--data", data.to_str().unwrap()]);
    // The cluster trusts loopback: the password is only there to be hidden.
    let url = phoneprov_testpeers::pg()
        .fresh_db()
        .replacen("postgres@", "postgres:hunter2@", 1);
    let from = format!("sqlite:{}", data.display());
    let out = run(&["db", "copy", "--from", &from, "--to", &url]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("devices 2") && !stdout.contains(&url),
        "{stdout}"
    );

    let out = run(&["db", "copy", "--from", &from, "--to", &url]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("--force") && !stderr.contains("hunter2"),
        "{stderr}"
    );
    assert!(
        run(&["db", "copy", "--from", &from, "--to", &url, "--force"])
            .status
            .success()
    );

    let back = dir.path().join("back");
    let to = format!("sqlite:{}", back.display());
    let out = run(&["db", "copy", "--from", &url, "--to", &to]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let after = show(&["--data", back.to_str().unwrap()]);
    assert_eq!(
        after["key"], before["key"],
        "the device key survived both copies"
    );
    assert_eq!(after["vars"], before["vars"]);
}
