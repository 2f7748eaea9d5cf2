//! Benchmark of the whole profile pipeline on a ~10 KB profile, as the
//! server runs it per request: render (template + device variables),
//! parse/lint the result, gzip and encrypt it with the device key, and the
//! phone side's decode. Run: `cargo bench -p phoneprov-profile --bench pipeline`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use phoneprov_crypto::{DecodeOptions, EncodeOptions, Kdf, Md, Scheme};
use phoneprov_profile::lint::lint_bytes;
use phoneprov_profile::FlatProfile;

/// A realistic template: ~10 KB once rendered (lines, GPPs, dial plan text).
fn template() -> String {
    let mut t = String::from("<flat-profile>\n");
    t.push_str("  <Profile_Rule ua=\"na\">[--key {{ key }}] https://prov.example.com/$MA.cfg</Profile_Rule>\n");
    t.push_str("  <Resync_Periodic ua=\"na\">3600</Resync_Periodic>\n");
    t.push_str("  <Syslog_Server ua=\"na\">syslog.example.com</Syslog_Server>\n");
    for n in 1..=10 {
        t.push_str(&format!(
            "  <Display_Name_{n}_ ua=\"rw\">{{{{ display_name }}}} {n}</Display_Name_{n}_>\n  <User_ID_{n}_ ua=\"na\">{{{{ user }}}}{n}</User_ID_{n}_>\n  <Password_{n}_ ua=\"na\">{{{{ password }}}}</Password_{n}_>\n  <Proxy_{n}_ ua=\"na\">sip.example.com</Proxy_{n}_>\n  <SIP_Transport_{n}_ ua=\"na\">TLS</SIP_Transport_{n}_>\n"
        ));
    }
    for letter in 'A'..='P' {
        t.push_str(&format!("  <GPP_{letter} ua=\"na\">value-{letter}-{{{{ user }}}}-0123456789abcdef</GPP_{letter}>\n"));
    }
    while t.len() < 9_800 {
        t.push_str(
            "  <!-- padding comment to reach a realistic 10 KB profile size ............ -->\n",
        );
    }
    t.push_str("</flat-profile>\n");
    t
}

fn bench(c: &mut Criterion) {
    let mut env = minijinja::Environment::new();
    env.add_template("phone", Box::leak(template().into_boxed_str()))
        .unwrap();
    let vars = minijinja::context! { key => "k3y-0123456789", display_name => "Alice", user => "4155550", password => "s3cret" };
    let rendered = env.get_template("phone").unwrap().render(&vars).unwrap();
    let size = rendered.len() as u64;
    let mut g = c.benchmark_group("profile_10k");
    g.throughput(Throughput::Bytes(size));
    g.bench_function("render", |b| {
        b.iter(|| env.get_template("phone").unwrap().render(&vars).unwrap())
    });
    g.bench_function("parse", |b| {
        b.iter(|| FlatProfile::parse(&rendered).unwrap())
    });
    g.bench_function("lint", |b| {
        b.iter(|| lint_bytes("p.xml", rendered.as_bytes()))
    });
    let cbc = EncodeOptions {
        scheme: Some(Scheme::Aes256Cbc),
        key: Some(b"k3y-0123456789".to_vec()),
        kdf: Kdf::EvpBytesToKey(Md::Sha256),
        gzip: true,
    };
    let gcm = EncodeOptions {
        scheme: Some(Scheme::Aes128Gcm),
        key: Some(b"k3y-0123456789".to_vec()),
        kdf: Kdf::EvpBytesToKey(Md::Sha256),
        gzip: true,
    };
    g.bench_function("render+gzip+aes256cbc", |b| {
        b.iter(|| {
            let text = env.get_template("phone").unwrap().render(&vars).unwrap();
            phoneprov_crypto::encode(text.as_bytes(), &cbc).unwrap()
        })
    });
    g.bench_function("render+gzip+aes128gcm", |b| {
        b.iter(|| {
            let text = env.get_template("phone").unwrap().render(&vars).unwrap();
            phoneprov_crypto::encode(text.as_bytes(), &gcm).unwrap()
        })
    });
    let encrypted = phoneprov_crypto::encode(rendered.as_bytes(), &cbc).unwrap();
    g.bench_function("decode(aes256cbc+gzip)", |b| {
        b.iter(|| {
            let opts = DecodeOptions {
                key: Some(b"k3y-0123456789"),
                ..DecodeOptions::default()
            };
            phoneprov_crypto::decode(&encrypted, &opts).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
