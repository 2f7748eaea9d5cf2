//! HTTP Digest against Apache httpd's mod_auth_digest (R-HTTP-4; the engine
//! answers the 401, the driver sends one request per Fetch), and a plain
//! fetch of a partitioned profile (R-RULE-3) from `python3 -m http.server`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::{one_phone, param, Guard};
use phoneprov_sim::run_fleet;

const REALM: &str = "phoneprov sim";
const MODULES: &[(&str, &str)] = &[
    ("mpm_event_module", "mod_mpm_event.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("authn_core_module", "mod_authn_core.so"),
    ("authn_file_module", "mod_authn_file.so"),
    ("auth_digest_module", "mod_auth_digest.so"),
    ("authz_user_module", "mod_authz_user.so"),
];

fn python(code: &str, arg: &str) -> String {
    let out = Command::new(common::peer("python3"))
        .args(["-c", code, arg])
        .output()
        .expect("python3");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Apache {
    port: u16,
    _guard: Guard,
    _dir: tempfile::TempDir,
}

fn apache(user: &str, pass: &str) -> Apache {
    let bin = common::peer("apache2");
    let dir = common::open_tempdir();
    let d = dir.path();
    common::write_public(
        &d.join("htdocs/digest/basic.xml"),
        b"<flat-profile><GPP_A>12345678</GPP_A></flat-profile>\n",
    );
    std::fs::set_permissions(d.join("htdocs"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        d.join("htdocs/digest"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let ha1 = python(
        "import hashlib,sys; print(hashlib.md5(sys.argv[1].encode()).hexdigest())",
        &format!("{user}:{REALM}:{pass}"),
    );
    common::write_public(
        &d.join("htdigest"),
        format!("{user}:{REALM}:{ha1}\n").as_bytes(),
    );
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
         AuthDigestProvider file\n  AuthUserFile \"{root}/htdigest\"\n  Require valid-user\n</Directory>\n",
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
    let mut guard = Guard(child);
    common::wait_tcp(port, &mut guard.0, &log);
    Apache {
        port,
        _guard: guard,
        _dir: dir,
    }
}

#[tokio::test]
async fn r_http_4_digest_against_apache() {
    let a = apache("Mufasa", "Circle of Life");
    let ok = format!(
        "[--uid Mufasa --pwd \"Circle of Life\"] http://127.0.0.1:{}/digest/basic.xml",
        a.port
    );
    let r = run_fleet(one_phone(&[("Profile_Rule", &ok)]))
        .await
        .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    assert_eq!(r.fetches, 2, "challenge, then the answer");
    let bad = format!(
        "[--uid Mufasa --pwd nope] http://127.0.0.1:{}/digest/basic.xml",
        a.port
    );
    let r = run_fleet(one_phone(&[("Profile_Rule", &bad)]))
        .await
        .unwrap();
    assert_eq!(r.resyncs.c, 1, "{}", r.to_text());
}

#[tokio::test]
async fn r_rule_3_partitioned_profile_from_python_http_server() {
    let dir = common::open_tempdir();
    common::write_public(
        &dir.path().join("basic.txt"),
        b"<flat-profile><GPP_A>12345678</GPP_A></flat-profile>\n",
    );
    common::write_public(
        &dir.path().join("basic2.txt"),
        b"<flat-profile><GPP_B>ABCD</GPP_B></flat-profile>\n",
    );
    let port = common::free_port();
    let log = dir.path().join("http.log");
    let child = Command::new(common::peer("python3"))
        .args(["-m", "http.server", "--bind", "127.0.0.1"])
        .arg(port.to_string())
        .arg("--directory")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start python3 -m http.server");
    let mut guard = Guard(child);
    common::wait_tcp(port, &mut guard.0, &log);
    let r = run_fleet(one_phone(&[
        (
            "Profile_Rule",
            &format!("http://127.0.0.1:{port}/basic.txt"),
        ),
        (
            "Profile_Rule_B",
            &format!("http://127.0.0.1:{port}/basic2.txt"),
        ),
    ]))
    .await
    .unwrap();
    assert_eq!(r.resyncs.a, 1, "{}", r.to_text());
    assert_eq!(param(&r, "GPP_A").as_deref(), Some("12345678"));
    assert_eq!(param(&r, "GPP_B").as_deref(), Some("ABCD"));
    assert_eq!(r.fetches, 2);
}
