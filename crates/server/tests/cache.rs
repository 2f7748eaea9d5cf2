//! Render-cache invalidation through the public state API: output is
//! reused (same bytes, same ETag) while nothing changes, and re-rendered
//! when the device row, the templates (reload) or the URL host change.

use std::sync::Arc;
use std::time::Duration;

use phoneprov_server::render::Variant;
use phoneprov_server::{Config, Listen, Server, StartOptions};
use phoneprov_store::{Mac, NewDevice, Store};

fn config() -> Config {
    let mut c = Config::default();
    c.listen.http = Listen::Off;
    c.listen.https = Listen::Off;
    c.listen.tftp = Listen::Off;
    c.listen.syslog = Listen::Off;
    c.listen.acs = Listen::Off;
    c.listen.admin = Listen::Off;
    c.profiles.device_ttl_ms = 0; // always re-read the row: test the hash check
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_hits_until_row_template_or_host_changes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let mac = Mac::parse("000e08abcdef").unwrap();
    let mut store = Store::open(&data).unwrap();
    let mut nd = NewDevice::new(mac);
    nd.vars.insert("display_name".into(), "One".into());
    store.upsert_device(&nd).unwrap();

    let server = Server::start(StartOptions::new(data.clone(), config()))
        .await
        .unwrap();
    let state = server.state().clone();
    let render = |host: &'static str| {
        let state = state.clone();
        async move {
            let dev = state
                .cache
                .device(&state.reader, mac, Duration::ZERO)
                .await
                .unwrap();
            let policy = state.policy.load_full();
            let templates = state.templates.load_full();
            state
                .cache
                .profile(
                    &state.bound,
                    &policy,
                    &templates,
                    &dev,
                    Variant::Encrypted,
                    host,
                )
                .unwrap()
        }
    };
    let (a, hit_a) = render("h1").await;
    assert!(!hit_a, "first render is a miss");
    let (b, hit_b) = render("h1").await;
    assert!(hit_b, "nothing changed: hit");
    assert!(Arc::ptr_eq(&a, &b));

    // Another host in the URLs: re-rendered.
    let (c, hit_c) = render("h2").await;
    assert!(!hit_c);
    assert_ne!(c.body, b.body);

    // The row changes (another process could do this): re-rendered.
    nd.vars.insert("display_name".into(), "Two".into());
    std::thread::sleep(Duration::from_millis(2)); // updated_ms moves on
    store.upsert_device(&nd).unwrap();
    let (d, hit_d) = render("h2").await;
    assert!(!hit_d);
    assert_ne!(d.etag, c.etag);
    let (_, hit_e) = render("h2").await;
    assert!(hit_e);

    // A template reload bumps the generation: re-rendered.
    std::fs::write(
        data.join("templates/default.xml.j2"),
        "<flat-profile><GPP_A>{{ display_name }}</GPP_A></flat-profile>\n",
    )
    .unwrap();
    let g = server.reload().unwrap();
    assert_eq!(g, 2);
    let (f, hit_f) = render("h2").await;
    assert!(!hit_f);
    let key = store.device(mac).unwrap().unwrap().key;
    let plain = phoneprov_crypto::decode(
        &f.body,
        &phoneprov_crypto::DecodeOptions {
            key: Some(key.expose_secret().as_bytes()),
            ..Default::default()
        },
    )
    .unwrap()
    .plain;
    let text = String::from_utf8(plain).unwrap();
    assert!(text.contains("<GPP_A>Two</GPP_A>"), "{text}");

    // A broken template on reload changes nothing.
    std::fs::write(data.join("templates/default.xml.j2"), "{% if %}").unwrap();
    assert!(server.reload().is_err());
    let (h, hit_h) = render("h2").await;
    assert!(hit_h);
    assert!(Arc::ptr_eq(&f, &h));
    server.shutdown().await;
}
