//! `phoneprov sim` end to end (issue 5 item 7): `--count 1 --once --json`
//! against `python3 -m http.server` reports the final parameter values
//! (SPEC §13: GPP_A = 12345678) and exits 0; an unreachable server is
//! class C and a non-zero exit; a bad `--dhcp-option` is one clear line;
//! `--listen` serves `/admin/resync?RULE` while the fleet runs.

use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_phoneprov");

use phoneprov_testpeers::{free_port, python_http, wait_tcp, Guard, PythonHttp};

/// `python3 -m http.server` serving basic.txt (GPP_A) and basic2.txt (GPP_B).
fn profiles_server() -> PythonHttp {
    python_http(&[
        (
            "basic.txt",
            b"<flat-profile>\n<GPP_A> 12345678\n</GPP_A>\n</flat-profile>\n",
        ),
        (
            "basic2.txt",
            b"<flat-profile><GPP_B>ABCD</GPP_B></flat-profile>\n",
        ),
    ])
}

fn sim(args: &[&str]) -> Output {
    Command::new(BIN).arg("sim").args(args).output().unwrap()
}

/// Waits for a `sim --json` child to end well; its report and stdout.
fn finish_json(mut g: Guard) -> (serde_json::Value, String) {
    use std::io::Read;
    let mut stdout = String::new();
    g.0.stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(g.0.wait().unwrap().success());
    let v = serde_json::from_str(&stdout).unwrap();
    (v, stdout)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {:?} stderr {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn sim_once_json_reports_final_parameters() {
    let server = profiles_server();
    let port = server.port;
    let rule = format!("Profile_Rule=http://127.0.0.1:{port}/basic.txt");
    let rule_b = format!("Profile_Rule_B=http://127.0.0.1:{port}/basic2.txt");
    let out = sim(&[
        "--count", "1", "--once", "--json", "--param", &rule, "--param", &rule_b,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["resyncs"]["A"], 1);
    assert_eq!(v["final_params"]["GPP_A"], "12345678");
    assert_eq!(v["final_params"]["GPP_B"], "ABCD");
    assert!(v["resync_latency_ms"]["p99"].is_number());
}

#[test]
fn sim_option_160_and_text_report() {
    let server = profiles_server();
    let port = server.port;
    let opt = format!("160=http://127.0.0.1:{port}/basic.txt");
    let out = sim(&["--dhcp-option", &opt, "--boot-storm"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("resyncs A 1 / B 0 / C 0"), "{text}");
    assert!(text.contains("resync latency ms p50"), "{text}");
}

#[test]
fn sim_unreachable_server_is_class_c_and_fails() {
    let port = free_port(); // nothing listens there
    let rule = format!("Profile_Rule=http://127.0.0.1:{port}/basic.txt");
    let out = sim(&["--count", "2", "--json", "--param", &rule]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["resyncs"]["C"], 2);
    assert_eq!(v["phones_failed"], 2);
}

/// `--dhcp-interface`: taught by `--help`; a missing interface is one
/// clear line and a non-zero exit; against dnsmasq in a namespace the
/// `--json` report lists each phone's lease (R-DHCP-2).
#[test]
fn sim_dhcp_interface_leases_from_dnsmasq() {
    let out = sim(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--dhcp-interface <IFACE>") && help.contains("--dhcp-timeout"),
        "{help}"
    );
    let out = sim(&["--dhcp-interface", "nosuchif0"]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.contains("--dhcp-interface nosuchif0"), "{err}");
    let http = profiles_server();
    let mut lab = phoneprov_testpeers::DhcpLab::new();
    lab.dnsmasq(&[
        format!("--dhcp-option=160,http://127.0.0.1:{}/basic.txt", http.port),
        format!("--dhcp-option=42,{}", lab.server_ip),
        "--dhcp-option=56,hello phones".into(),
    ]);
    let out = sim(&[
        "--count",
        "2",
        "--boot-storm",
        "--json",
        "--dhcp-interface",
        &lab.host_if,
        "--dhcp-timeout",
        "20",
    ]);
    let v = json(&out);
    assert_eq!(v["resyncs"]["A"], 2, "{v}");
    assert_eq!(v["dhcp"]["bound"], 2, "{v}");
    for p in v["dhcp"]["phones"].as_array().unwrap() {
        assert_eq!(p["dhcp"]["message"], "hello phones", "{p}");
        assert_eq!(p["dhcp"]["ntp_servers"][0], lab.server_ip.to_string());
        let addr = p["dhcp"]["address"].as_str().unwrap();
        assert!(lab.leases().contains(addr), "{addr}: {}", lab.leases());
    }
}

#[test]
fn sim_bad_dhcp_option_is_one_clear_line() {
    let out = sim(&["--dhcp-option", "sixty-six=10.0.0.1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(
        err.contains("--dhcp-option") && err.contains("N=VALUE"),
        "{err}"
    );
    let out = sim(&["--dhcp-option", "300=x"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `--profile-account` without `USER:` is one line and exit 2; the value
/// never appears in `--help` when it comes from the environment.
#[test]
fn sim_bad_profile_account_is_one_clear_line() {
    for bad in ["nocolon", ":pw"] {
        let out = sim(&["--profile-account", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err:?}");
        assert!(
            err.contains("--profile-account") && err.contains("USER:PASSWORD"),
            "{err}"
        );
    }
    let out = Command::new(BIN)
        .args(["sim", "--help"])
        .env("PHONEPROV_SIM_PROFILE_ACCOUNT", "phone:topsecret")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--profile-account"), "{help}");
    assert!(!help.contains("topsecret"), "{help}");
}

#[test]
fn sim_listen_admin_resync_triggers_a_fetch() {
    let server = profiles_server();
    let port = server.port;
    let listen = free_port();
    let child = Command::new(BIN)
        .args(["sim", "--json", "--duration", "4", "--listen"])
        .arg(format!("127.0.0.1:{listen}"))
        .args([
            "--param",
            "Resync_On_Reset=No",
            "--param",
            "Resync_Periodic=0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut g = Guard(child);
    wait_tcp(listen, &mut g.0, std::path::Path::new("/dev/null"));
    let target = format!("/admin/resync?http://127.0.0.1:{port}/basic.txt");
    let mut s = std::net::TcpStream::connect(("127.0.0.1", listen)).unwrap();
    use std::io::{Read, Write};
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let (v, stdout) = finish_json(g);
    assert_eq!(v["resyncs"]["A"], 1, "{stdout}");
    assert_eq!(v["final_params"]["GPP_A"], "12345678");
}

/// R-RULE-6 both sides: `phoneprov device resync MAC --sip CONTACT` sends
/// NOTIFY check-sync to a `phoneprov sim --sip-listen` phone (TCP, then
/// UDP), which resyncs; with line 1's password the phone challenges and
/// `--sip-user/--sip-password` answers; a wrong password exits 1.
#[test]
fn device_resync_sip_notify_resyncs_a_sim_phone() {
    let server = profiles_server();
    let port = server.port;
    let sip = free_port();
    let child = Command::new(BIN)
        .args(["sim", "--json", "--duration", "5", "--sip-listen"])
        .arg(format!("127.0.0.1:{sip}"))
        .args(["--mac-base", "000e08000001", "--param"])
        .arg(format!("Profile_Rule=http://127.0.0.1:{port}/basic.txt"))
        .args([
            "--param",
            "Resync_On_Reset=No",
            "--param",
            "Resync_Periodic=0",
            "--param",
            "User_ID_1_=1001",
            "--param",
            "Password_1_=s3cret",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut g = Guard(child);
    wait_tcp(sip, &mut g.0, std::path::Path::new("/dev/null"));
    let resync = |contact: String, pass: &str| {
        Command::new(BIN)
            .args(["device", "resync", "000e08000001", "--sip", &contact])
            .args(["--sip-user", "1001", "--sip-password", pass])
            .output()
            .unwrap()
    };
    let out = resync(
        format!("sip:000e08000001@127.0.0.1:{sip};transport=tcp"),
        "s3cret",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("answered 200 OK"), "{text}");
    let out = resync(format!("sip:000e08000001@127.0.0.1:{sip}"), "wrong");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("401") && err.contains("--sip-password"),
        "{err}"
    );
    let out = resync(format!("sip:000e08000001@127.0.0.1:{sip}"), "s3cret");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = resync("http://x".into(), "s3cret");
    assert_eq!(out.status.code(), Some(2));
    let (v, stdout) = finish_json(g);
    assert_eq!(v["resyncs"]["A"], 2, "{stdout}");
    assert_eq!(v["final_params"]["GPP_A"], "12345678");
}
