//! Push resync (R-RULE-6) against a local listener standing in for the
//! phone: the exact request line, query encoding and Execute body, the
//! phone library's own parser reading what we send, refusals, unreachable
//! phones, and `resync_device` (what `phoneprov device resync` calls).

mod common;

use axum::http::{Method, StatusCode};
use common::fake_phone;
use phoneprov_api::{push_resync, resync_device, PushError, PushMethod};
use phoneprov_store::{Database, EventKind, Mac, NewDevice, Store};

fn decode(q: &str) -> String {
    percent_encoding::percent_decode_str(q)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

#[tokio::test]
async fn r_rule_6_get_admin_resync_with_encoded_rule() {
    let (phone, seen) = fake_phone(StatusCode::OK).await;
    let rule = "[--key My Secret&+] tftp://192.168.1.200/basic$MA.cfg?a=b#x é";
    let out = push_resync(&phone, Some(rule), PushMethod::Get)
        .await
        .unwrap();
    assert_eq!(out.status, 200);
    assert_eq!(out.body, "resync accepted");
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, Method::GET);
    assert_eq!(got[0].uri.path(), "/admin/resync");
    let q = got[0].uri.query().unwrap();
    assert!(
        !q.contains(' ') && !q.contains('&') && !q.contains('+') && !q.contains('#'),
        "{q}"
    );
    assert_eq!(
        decode(q),
        rule,
        "the phone decodes the query back to the rule"
    );
    assert_eq!(out.url, format!("http://{phone}/admin/resync?{q}"));
}

#[tokio::test]
async fn r_rule_6_get_without_rule_has_no_query() {
    let (phone, seen) = fake_phone(StatusCode::OK).await;
    for rule in [None, Some("")] {
        push_resync(
            &format!("http://{phone}/ignored/path"),
            rule,
            PushMethod::Get,
        )
        .await
        .unwrap();
    }
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    for s in got {
        assert_eq!(s.uri.path(), "/admin/resync");
        assert_eq!(s.uri.query(), None);
    }
}

#[tokio::test]
async fn r_rule_6_execute_xml_post_is_read_by_the_phone_library() {
    let (phone, seen) = fake_phone(StatusCode::OK).await;
    let rule = r#"[--key a"b&<c>'] http://prov.example/$MA.xml"#;
    push_resync(&phone, Some(rule), PushMethod::ExecuteXml)
        .await
        .unwrap();
    push_resync(&phone, None, PushMethod::ExecuteXml)
        .await
        .unwrap();
    let got = seen.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].method, Method::POST);
    assert_eq!(got[0].uri.path(), "/CGI/Execute");
    assert_eq!(
        got[0].content_type.as_deref(),
        Some("text/xml; charset=utf-8")
    );
    let body = std::str::from_utf8(&got[0].body).unwrap();
    assert_eq!(
        body,
        "<CP-xxxx-3PCCExecute><ExecuteItem URL=\"Resync:[--key a&quot;b&amp;&lt;c&gt;&apos;] http://prov.example/$MA.xml\"/></CP-xxxx-3PCCExecute>"
    );
    use phoneprov_phone::{parse_execute_xml, ExecuteCommand};
    let items = parse_execute_xml(body).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0].command(),
        ExecuteCommand::Resync(Some(rule.to_string()))
    );
    let items = parse_execute_xml(std::str::from_utf8(&got[1].body).unwrap()).unwrap();
    assert_eq!(items[0].command(), ExecuteCommand::Resync(None));
}

#[tokio::test]
async fn refused_and_unreachable_phones() {
    let (phone, _) = fake_phone(StatusCode::UNAUTHORIZED).await;
    let e = push_resync(&phone, None, PushMethod::Get)
        .await
        .unwrap_err();
    assert!(matches!(e, PushError::Refused { status: 401, .. }), "{e}");
    assert!(e.to_string().contains("admin login"), "{e}");

    // A port that was just free: connection refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = push_resync(&format!("127.0.0.1:{port}"), None, PushMethod::Get)
        .await
        .unwrap_err();
    assert!(matches!(e, PushError::Unreachable { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(
        msg.to_lowercase().contains("refused"),
        "the cause is shown: {msg}"
    );
    assert!(msg.contains("check that it is on"), "{msg}");
}

#[tokio::test]
async fn resync_device_uses_the_inventory_and_records_the_push() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::Sqlite(dir.path().into());
    let mac = Mac::parse("000e08abcdef").unwrap();
    // No inventory at all and no --phone: say so.
    let e = resync_device(&db, mac, None, None, Some(PushMethod::Get))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no device inventory"), "{e}");

    let mut store = Store::open(dir.path()).unwrap();
    store.add_device(&NewDevice::new(mac)).unwrap();
    // Known device, never seen: no address.
    let e = resync_device(&db, mac, None, None, Some(PushMethod::Get))
        .await
        .unwrap_err();
    assert!(matches!(e, PushError::NoAddress { .. }), "{e}");
    assert!(e.to_string().contains("--phone"), "{e}");
    // Unknown device without --phone.
    let other = Mac::parse("000e08000001").unwrap();
    let e = resync_device(&db, other, None, None, Some(PushMethod::Get))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no device 000e08000001"), "{e}");

    let (phone, seen) = fake_phone(StatusCode::OK).await;
    let out = resync_device(
        &db,
        mac,
        Some(&phone),
        Some("http://p/x.xml"),
        Some(PushMethod::Get),
    )
    .await
    .unwrap();
    assert_eq!(out.status, 200);
    assert_eq!(seen.lock().unwrap()[0].uri.query(), Some("http://p/x.xml"));
    let ev = store.events(mac, 10).unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, EventKind::Resync);
    assert!(ev[0].message.contains("/admin/resync"), "{}", ev[0].message);

    // --phone works without any inventory.
    let empty = tempfile::tempdir().unwrap();
    resync_device(
        &Database::Sqlite(empty.path().into()),
        mac,
        Some(&phone),
        None,
        Some(PushMethod::ExecuteXml),
    )
    .await
    .unwrap();
    assert!(!empty.path().join(phoneprov_store::DB_FILE).exists());
}
