//! Parse and lint speed on a ~10 KB realistic profile (generated here:
//! 16 lines of account settings, provisioning rules, log templates and the
//! security block of R-SEC).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use phoneprov_profile::lint::lint_bytes;
use phoneprov_profile::FlatProfile;
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

fn bench(c: &mut Criterion) {
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
