//! Parse and lint speed on a ~10 KB realistic profile (generated here:
//! 16 lines of account settings, provisioning rules, log templates and the
//! security block of R-SEC), and lint speed on a 3 000-line full cfg.xml
//! (every parameter of the schema at its default, one per line, with
//! section comments; issue 16 asks for under 10 ms). Set
//! `PHONEPROV_BENCH_CFG=FILE` to lint that file instead (the same file can
//! then be linted by an older build; `PHONEPROV_BENCH_CFG_OUT=FILE` writes
//! the generated one).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use phoneprov_profile::lint::lint_bytes;
use phoneprov_profile::schema;
use phoneprov_profile::FlatProfile;
use phoneprov_types::xml::{escape, XmlContext};
use std::hint::black_box;

fn realistic_profile() -> String {
    let mut x =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<device>\n<flat-profile>\n");
    x.push_str("<!-- Provisioning -->\n");
    for (k, v) in [
        ("Provision_Enable", "Yes"),
        ("Resync_On_Reset", "Yes"),
        ("Resync_Random_Delay", "2"),
        ("Resync_Periodic", "3600+600"),
        (
            "Resync_Error_Retry_Delay",
            "60,120,240,480,960,1920,3840,7680,15360,30720,61440,86400",
        ),
        (
            "Profile_Rule",
            "[--key $SA] https://prov.example.com/profiles/$PN/$MA.cfg",
        ),
        ("Profile_Rule_B", "https://prov.example.com/common/$PSN.xml"),
        (
            "Upgrade_Rule",
            "http://fw.example.com/sip88xx.11-2-3MSR1-1.loads",
        ),
        (
            "Log_Request_Msg",
            "$PN $MAC -- Requesting resync $SCHEME://$SERVIP:$PORT$PATH",
        ),
        (
            "Log_Success_Msg",
            "$PN $MAC -- Successful resync $SCHEME://$SERVIP:$PORT$PATH",
        ),
        ("Log_Failure_Msg", "$PN $MAC -- Resync failed: $ERR"),
        ("DHCP_Option_To_Use", "66,160,159,150,60,43,125"),
        ("Restricted_Access_Domains", "example.com, example.net"),
        ("TLS_Cipher_List", "ECDHE+AESGCM:!aNULL:!eNULL:@STRENGTH"),
        ("Firewall_Config", "NO_ICMP_PING,TCP:12000,UDP:8000:8010"),
        ("Syslog_Server", "syslog.example.com:514"),
    ] {
        x.push_str(&format!("<{k} ua=\"na\">{v}</{k}>\n"));
    }
    for n in 1..=16 {
        x.push_str(&format!("<!-- Line {n} -->\n"));
        x.push_str(&format!(
            "<User_ID_{n}_ ua=\"na\">1777555{n:04}</User_ID_{n}_>\n"
        ));
        x.push_str(&format!(
            "<Password_{n}_ ua=\"na\">s3cr&amp;t{n}</Password_{n}_>\n"
        ));
        x.push_str(&format!(
            "<Display_Name_{n}_ ua=\"rw\">Extension {n}</Display_Name_{n}_>\n"
        ));
        x.push_str(&format!(
            "<Proxy_{n}_ ua=\"na\">sip.example.com:5060</Proxy_{n}_>\n"
        ));
        x.push_str(&format!(
            "<SIP_Transport_{n}_ ua=\"na\">TLS</SIP_Transport_{n}_>\n"
        ));
        x.push_str(&format!(
            "<Auth_INVITE_{n}_ ua=\"na\">Yes</Auth_INVITE_{n}_>\n"
        ));
        x.push_str(&format!(
            "<MediaSec_Request_{n}_ ua=\"na\">No</MediaSec_Request_{n}_>\n"
        ));
        x.push_str(&format!(
            "<TLS_Name_Validate_{n}_ ua=\"na\">Yes</TLS_Name_Validate_{n}_>\n"
        ));
        x.push_str(&format!(
            "<MediaSec_Over_TLS_Only_{n}_ ua=\"na\">No</MediaSec_Over_TLS_Only_{n}_>\n"
        ));
    }
    for c in 'A'..='P' {
        x.push_str(&format!("<GPP_{c} ua=\"na\">value {c}</GPP_{c}>\n"));
    }
    x.push_str("</flat-profile>\n</device>\n");
    x
}

/// Every concrete parameter name at its default, one element per line,
/// a comment before each entry, padded to exactly 3 000 lines.
fn full_cfg() -> String {
    if let Ok(path) = std::env::var("PHONEPROV_BENCH_CFG") {
        return std::fs::read_to_string(path).expect("PHONEPROV_BENCH_CFG names a file");
    }
    let mut lines = vec![
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>".to_string(),
        "<flat-profile>".to_string(),
    ];
    for spec in schema::all() {
        lines.push(format!("<!-- {} -->", spec.name));
        for name in spec.instances() {
            if lines.len() >= 2999 {
                break;
            }
            lines.push(format!(
                "<{name} ua=\"na\">{}</{name}>",
                escape(spec.default, XmlContext::Text)
            ));
        }
    }
    lines.truncate(2999);
    while lines.len() < 2999 {
        lines.push("<!-- -->".to_string());
    }
    lines.push("</flat-profile>".to_string());
    let xml = lines.join("\n") + "\n";
    if let Ok(out) = std::env::var("PHONEPROV_BENCH_CFG_OUT") {
        std::fs::write(out, &xml).expect("write PHONEPROV_BENCH_CFG_OUT");
    }
    xml
}

fn bench(c: &mut Criterion) {
    let full = full_cfg();
    let mut g = c.benchmark_group("full_cfg");
    g.throughput(Throughput::Bytes(full.len() as u64));
    g.bench_function(format!("lint_{}_lines", full.lines().count()), |b| {
        b.iter(|| lint_bytes("cfg.xml", black_box(full.as_bytes())))
    });
    g.finish();

    let xml = realistic_profile();
    let mut g = c.benchmark_group("profile");
    g.throughput(Throughput::Bytes(xml.len() as u64));
    g.bench_function(format!("parse_{}B", xml.len()), |b| {
        b.iter(|| FlatProfile::parse(black_box(&xml)).unwrap())
    });
    g.bench_function(format!("lint_{}B", xml.len()), |b| {
        b.iter(|| lint_bytes("bench.xml", black_box(xml.as_bytes())))
    });
    let parsed = FlatProfile::parse(&xml).unwrap();
    g.bench_function("to_xml", |b| b.iter(|| black_box(&parsed).to_xml()));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
