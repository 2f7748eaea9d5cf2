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
    // A real version-11 file: version 12 adds nothing on SQLite (an index
    // on PostgreSQL only), so the current file marked 11 is what a file
    // written by the previous release holds. (Marking a current file
    // older is not enough when a step changes SQLite: most steps, e.g.
    // v7's ADD COLUMN, cannot run twice.) When a version 13 is added, drop
    // what it adds here and mark 12.
    set_user_version(&data, 11);
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
        (Some(11), Some("older"))
    );
    assert_eq!(
        v["known"], 12,
        "a new schema version: make the file above a real previous-version file"
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

/// `phoneprov ARGS` with `env` set (and no system configuration).
fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let none = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("PHONEPROV_DATA")
        .env_remove("PHONEPROV_CONFIG")
        .env_remove("PHONEPROV_DATABASE_URL")
        .env("PHONEPROV_SYSCONFDIR", none.path().join("none"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The data commands (`device`, `activation`) open the database `serve`
/// uses (issue 13): `--database-url`, `PHONEPROV_DATABASE_URL` or the
/// config's `[database] url`, never the data directory's SQLite file; a
/// PostgreSQL schema is migrated only when told, as for serve; a server
/// on the same URL serves what they wrote.
#[test]
fn device_and_activation_commands_work_on_the_postgres_database_serve_uses() {
    let url = phoneprov_testpeers::pg().fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let ok = |out: Output| {
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        stdout
    };

    // An empty database: refused, with what to do; nothing created.
    let out = run(&[
        "device",
        "add",
        "000e08000011",
        "--data",
        d,
        "--database-url",
        &url,
    ]);
    let (_, err) = text(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("db migrate"), "{err}");
    ok(run(&["db", "migrate", "--data", d, "--database-url", &url]));

    // Flag, environment and config each reach the same database.
    ok(run(&[
        "device",
        "add",
        "000e08000011",
        "--var",
        "user=1011",
        "--data",
        d,
        "--database-url",
        &url,
    ]));
    let csv = dir.path().join("fleet.csv");
    std::fs::write(
        &csv,
        "mac,serial,model,group,user,password\n000e08000012,SN12,CP-8841-3PCC,sales,1012,pw12\n000e08000013,SN13,CP-8841-3PCC,sales,1013,pw13\n",
    )
    .unwrap();
    let env = [("PHONEPROV_DATABASE_URL", url.as_str())];
    let out = ok(run_env(
        &["device", "import", csv.to_str().unwrap(), "--data", d],
        &env,
    ));
    assert!(out.starts_with("imported 2 devices (2 new"), "{out}");
    let conf = dir.path().join("node.toml");
    std::fs::write(&conf, format!("[database]\nurl = \"{url}\"\n")).unwrap();
    let c = conf.to_str().unwrap();
    let list: serde_json::Value = serde_json::from_str(&ok(run(&[
        "device", "list", "--json", "--data", d, "--config", c,
    ])))
    .unwrap();
    let macs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["mac"].as_str().unwrap())
        .collect();
    assert_eq!(macs, ["000e08000011", "000e08000012", "000e08000013"]);
    let rm = ok(run(&[
        "device",
        "rm",
        "000e08000013",
        "--config",
        c,
        "--data",
        d,
    ]));
    assert!(rm.starts_with("removed"), "{rm}");

    let rule = "https://prov.example.com/$MA.xml";
    ok(run_env(
        &[
            "activation",
            "bind",
            "--mac",
            "000e08000021",
            "--url",
            rule,
            "--data",
            d,
        ],
        &env,
    ));
    let codes = ok(run_env(
        &[
            "activation",
            "code",
            "--url",
            "https://other.example.com/$MA.xml",
            "--count",
            "1",
            "--data",
            d,
        ],
        &env,
    ));
    let code = codes.trim().to_string();
    let listing: serde_json::Value = serde_json::from_str(&ok(run(&[
        "activation",
        "list",
        "--json",
        "--config",
        c,
        "--data",
        d,
    ])))
    .unwrap();
    assert_eq!(
        listing["bindings"].as_array().unwrap().len(),
        1,
        "{listing}"
    );
    assert_eq!(listing["codes"].as_array().unwrap().len(), 1, "{listing}");
    assert!(
        !data.join("phoneprov.db").exists(),
        "a command wrote the SQLite file instead of PostgreSQL"
    );

    // A server on the same database serves all of it.
    let s = start_with(None, &["--database-url", &url], |_| {});
    let auth = s.admin_auth();
    let (status, body) = curl(&[
        "-m",
        "10",
        "-H",
        &auth,
        &s.admin_url("/api/v1/devices/000e08000012"),
    ]);
    let dev: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(
        (status, dev["serial"].as_str()),
        (200, Some("SN12")),
        "{dev}"
    );
    let (status, _) = curl(&[
        "-m",
        "10",
        "-H",
        &auth,
        &s.admin_url("/api/v1/devices/000e08000013"),
    ]);
    assert_eq!(status, 404, "device rm did not reach the database");
    let (status, body) = curl(&[
        "-m",
        "10",
        &s.http_url("/activation/v1/query?mac=000e08000021&model=CP-8841-3PCC&serial=X1"),
    ]);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("prov.example.com"), "{body}");
    let redeem = format!(r#"{{"mac":"000e08000031","code":"{code}"}}"#);
    let (status, body) = curl(&[
        "-m",
        "10",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &redeem,
        &s.http_url("/activation/v1/code"),
    ]);
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("other.example.com"), "{body}");
}

/// The trap of a `--database-url` given to `serve` only: a later `device
/// add` on the same `--data` without the URL would write the data
/// directory's SQLite file, which the server never reads. serve on
/// PostgreSQL records its database (password redacted) in
/// `DATA/served-database`; the command then stops with one line and exit
/// 2 and creates nothing; with the URL it reaches what the server serves.
#[test]
fn a_command_without_the_url_of_a_postgres_serve_stops_and_writes_nothing() {
    let url = phoneprov_testpeers::pg()
        .fresh_db()
        .replacen("postgres@", "postgres:s3cret@", 1);
    let out = run(&["db", "migrate", "--database-url", &url]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let s = start_with(None, &["--database-url", &url], |_| {});
    let data = s.data();
    let d = data.to_str().unwrap();
    let record = data.join("served-database");
    let recorded = std::fs::read_to_string(&record).expect("serve recorded its database");
    assert!(!recorded.contains("s3cret"), "{recorded}");
    let had_sqlite = data.join("phoneprov.db").exists();

    let out = run(&["device", "add", "000e08000041", "--data", d]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let want = format!(
        "phoneprov: error: serve on {d} uses PostgreSQL {} (recorded in {}); pass --database-url or set PHONEPROV_DATABASE_URL (or [database] url in the config); to use {d}'s own SQLite file, remove {}",
        recorded.trim(),
        record.display(),
        record.display()
    );
    assert_eq!(err.trim_end(), want);
    assert!(recorded.contains("postgres:***@127.0.0.1"), "{recorded}");
    assert_eq!(
        data.join("phoneprov.db").exists(),
        had_sqlite,
        "the refused command created the SQLite file"
    );

    let out = run(&[
        "device",
        "add",
        "000e08000041",
        "--data",
        d,
        "--database-url",
        &url,
    ]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let (status, _) = curl(&[
        "-m",
        "10",
        "-H",
        &s.admin_auth(),
        &s.admin_url("/api/v1/devices/000e08000041"),
    ]);
    assert_eq!(
        status, 200,
        "the server does not see the device added with the URL"
    );
}
