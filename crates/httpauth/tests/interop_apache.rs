//! This crate's client side against Apache httpd (R-HTTP-4): Apache's
//! mod_auth_digest challenge is parsed, answered, and Apache says 200;
//! likewise mod_auth_basic. The password file is written here in
//! `htdigest` format (`user:realm:md5(user:realm:pass)`).

mod common;

use phoneprov_httpauth::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

const REALM: &str = "phoneprov apache";
const USER: &str = "Mufasa";
const PASS: &str = "Circle of Life";
const MODULES: &[(&str, &str)] = &[
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("authn_core_module", "mod_authn_core.so"),
    ("authn_file_module", "mod_authn_file.so"),
    ("auth_digest_module", "mod_auth_digest.so"),
    ("auth_basic_module", "mod_auth_basic.so"),
    ("authz_user_module", "mod_authz_user.so"),
];

struct Apache {
    port: u16,
    _guard: common::Guard,
    _dir: tempfile::TempDir,
}

fn start_apache() -> Apache {
    let bin = common::peer("apache2");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Apache drops to `nobody` when started as root: let it read the files.
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    for sub in ["digest", "basic"] {
        std::fs::create_dir_all(d.join("htdocs").join(sub)).unwrap();
        std::fs::write(
            d.join("htdocs").join(sub).join("phone.xml"),
            "<flat-profile/>\n",
        )
        .unwrap();
    }
    let ha1 = Algorithm::Md5.ha1_plain(USER, REALM, PASS);
    std::fs::write(d.join("htdigest"), format!("{USER}:{REALM}:{ha1}\n")).unwrap();
    // Basic reads htpasswd lines; the `{SHA}` form (base64 of SHA-1) is the
    // simplest one Apache accepts.
    let sha1 = sha1_base64(PASS);
    std::fs::write(d.join("htpasswd"), format!("{USER}:{{SHA}}{sha1}\n")).unwrap();
    let port = common::free_port();
    let modules: String = MODULES
        .iter()
        .map(|(name, file)| format!("LoadModule {name} /usr/lib/apache2/modules/{file}\n"))
        .collect();
    let conf = format!(
        "ServerRoot \"{root}\"\nServerName 127.0.0.1\nListen 127.0.0.1:{port}\n{modules}\
         User nobody\nGroup nogroup\n\
         PidFile \"{root}/httpd.pid\"\nErrorLog \"{root}/error.log\"\nLogLevel info\n\
         DefaultRuntimeDir \"{root}\"\nMutex file:{root} default\n\
         StartServers 1\nServerLimit 1\nThreadsPerChild 4\nMaxRequestWorkers 4\n\
         DocumentRoot \"{root}/htdocs\"\n\
         <Directory \"{root}/htdocs/digest\">\n  AuthType Digest\n  AuthName \"{REALM}\"\n  \
         AuthDigestProvider file\n  AuthUserFile \"{root}/htdigest\"\n  Require valid-user\n</Directory>\n\
         <Directory \"{root}/htdocs/basic\">\n  AuthType Basic\n  AuthName \"{REALM}\"\n  \
         AuthBasicProvider file\n  AuthUserFile \"{root}/htpasswd\"\n  Require valid-user\n</Directory>\n",
        root = d.display()
    );
    let conf_path = d.join("httpd.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let log = d.join("stderr.log");
    let child = Command::new(bin)
        .arg("-f")
        .arg(&conf_path)
        .arg("-DFOREGROUND")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start apache2");
    let mut guard = common::Guard(child);
    wait_or_dump(port, &mut guard, d);
    Apache {
        port,
        _guard: guard,
        _dir: dir,
    }
}

fn wait_or_dump(port: u16, guard: &mut common::Guard, d: &Path) {
    common::wait_port(port, &mut guard.0, &d.join("stderr.log"));
}

/// base64(SHA-1(pass)) for the `{SHA}` htpasswd form, computed by python3
/// (a peer already) rather than adding a SHA-1 dependency for one test.
fn sha1_base64(pass: &str) -> String {
    let out = Command::new(common::peer("python3"))
        .args(["-c", "import hashlib,base64,sys; print(base64.b64encode(hashlib.sha1(sys.argv[1].encode()).digest()).decode())"])
        .arg(pass)
        .output()
        .expect("python3");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn r_http_4_client_digest_against_apache() {
    let apache = start_apache();
    let target = "/digest/phone.xml";
    let first = common::raw_get(apache.port, target, None);
    assert_eq!(first.status, 401);
    let header = first.all("www-authenticate").join(", ");
    let chs = parse_challenges(&header).unwrap();
    let best = best_challenge(&chs).unwrap_or_else(|| panic!("no usable challenge in {header}"));
    assert!(
        matches!(best, Challenge::Digest(d) if d.realm == REALM && d.algorithm == Algorithm::Md5),
        "{best:?}"
    );
    let creds = Credentials::new(USER, PASS);
    let auth = authorization(best, &creds, "GET", target, b"", "0a4f113b", 1);
    assert_eq!(
        common::raw_get(apache.port, target, Some(&auth)).status,
        200,
        "{auth}"
    );
    // Next request with the same nonce and a higher count is fine too.
    let auth2 = authorization(best, &creds, "GET", target, b"", "0a4f113c", 2);
    assert_eq!(
        common::raw_get(apache.port, target, Some(&auth2)).status,
        200
    );
    // A wrong password is refused.
    let bad = authorization(
        best,
        &Credentials::new(USER, "wrong"),
        "GET",
        target,
        b"",
        "x",
        3,
    );
    assert_eq!(common::raw_get(apache.port, target, Some(&bad)).status, 401);
}

#[test]
fn r_http_4_client_basic_against_apache() {
    let apache = start_apache();
    let target = "/basic/phone.xml";
    let first = common::raw_get(apache.port, target, None);
    assert_eq!(first.status, 401);
    let chs = parse_challenges(&first.all("www-authenticate").join(", ")).unwrap();
    assert_eq!(
        chs,
        vec![Challenge::Basic {
            realm: REALM.into()
        }]
    );
    let auth = authorization(
        &chs[0],
        &Credentials::new(USER, PASS),
        "GET",
        target,
        b"",
        "",
        1,
    );
    assert_eq!(
        common::raw_get(apache.port, target, Some(&auth)).status,
        200
    );
}
