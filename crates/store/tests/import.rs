//! CSV import: good files, bad rows with line numbers, all-or-nothing,
//! `skip_bad`, re-import keeping keys.

#[macro_use]
mod support;
use support::TestDb;

use phoneprov_store::{
    BadRow, ImportObserver, ImportOptions, ImportSummary, Mac, NoObserver, Store, StoreError,
};

#[derive(Default)]
struct Collect {
    bad: Vec<BadRow>,
    merging: bool,
}
impl ImportObserver for Collect {
    fn bad_row(&mut self, row: &BadRow) {
        self.bad.push(row.clone());
    }
    fn merging(&mut self) {
        self.merging = true;
    }
}

fn mac(s: &str) -> Mac {
    Mac::parse(s).unwrap()
}

fn import(
    store: &mut Store,
    csv: &[u8],
    skip_bad: bool,
) -> (Result<ImportSummary, StoreError>, Collect) {
    let mut obs = Collect::default();
    let r = store.import_csv(csv, ImportOptions { skip_bad }, &mut obs);
    (r, obs)
}

const GOOD: &str = "\
MAC,Serial,model,group,user,password,display name
000e08000001,SN1,CP-8841-3PCC,sales,1001,pw1,Alice
00:0E:08:00:00:02,SN2,CP-6841-3PCC,support,1002,\"p,w2\",
00-0e-08-00-00-03,,,,1003,,Carol
";

on_both! {
fn good_file_imports_columns_and_variables(db: &TestDb) {
    let mut store = db.store();
    let (r, obs) = import(&mut store, GOOD.as_bytes(), false);
    assert_eq!(
        r.unwrap(),
        ImportSummary {
            created: 3,
            updated: 0,
            skipped: 0
        }
    );
    assert!(obs.bad.is_empty() && obs.merging);

    let a = store.device(mac("000e08000001")).unwrap().unwrap();
    assert_eq!(a.serial.as_deref(), Some("SN1"));
    assert_eq!(a.model.as_deref(), Some("CP-8841-3PCC"));
    assert_eq!(a.group.as_deref(), Some("sales"));
    assert_eq!(a.vars.len(), 3);
    assert_eq!(a.vars["display name"], "Alice");
    assert_eq!(a.key.expose_secret().len(), 32);

    let b = store.device(mac("000e08000002")).unwrap().unwrap();
    assert_eq!(b.vars["password"], "p,w2", "quoted comma");
    assert!(!b.vars.contains_key("display name"), "empty cell = unset");

    let c = store.device(mac("000e08000003")).unwrap().unwrap();
    assert_eq!((c.serial, c.model, c.group), (None, None, None));
    assert_ne!(a.key, b.key);
    assert_ne!(b.key, c.key);
}
}

on_both! {
fn reimport_updates_and_keeps_keys(db: &TestDb) {
    let mut store = db.store();
    import(&mut store, GOOD.as_bytes(), false).0.unwrap();
    let before = store.device(mac("000e08000001")).unwrap().unwrap();
    let again = "mac,model,user\n000e08000001,CP-7841-3PCC,2001\n000e08000009,CP-7841-3PCC,2009\n";
    let (r, _) = import(&mut store, again.as_bytes(), false);
    assert_eq!(
        r.unwrap(),
        ImportSummary {
            created: 1,
            updated: 1,
            skipped: 0
        }
    );
    let after = store.device(mac("000e08000001")).unwrap().unwrap();
    assert_eq!(after.key, before.key, "re-import keeps the key");
    assert_eq!(after.created_ms, before.created_ms);
    assert_eq!(after.model.as_deref(), Some("CP-7841-3PCC"));
    assert_eq!(after.vars["user"], "2001");
    assert!(
        !after.vars.contains_key("password"),
        "the file is the truth"
    );
    assert_eq!(store.count_devices(None).unwrap(), 4);
}
}

const BAD: &[u8] = b"mac,model,user
000e08000001,CP-8841-3PCC,1001
zz0e08000002,CP-8841-3PCC,1002
000e08000003,CP-8841-3PCC
000e08000004,CP-8841-3PCC,1004
00:0e:08:00:00:01,CP-8841-3PCC,1005
000e08000006,CP-\xff\xfe,1006
";

on_both! {
fn bad_rows_are_reported_with_line_numbers_and_nothing_changes(db: &TestDb) {
    let mut store = db.store();
    store
        .import_csv(
            "mac\n000e08000001\n".as_bytes(),
            ImportOptions::default(),
            &mut NoObserver,
        )
        .unwrap();
    let key_before = store.device(mac("000e08000001")).unwrap().unwrap().key;

    let (r, obs) = import(&mut store, BAD, false);
    let e = r.unwrap_err();
    assert!(matches!(e, StoreError::ImportRejected { bad: 4 }), "{e}");
    assert!(e.to_string().contains("--skip-bad"), "{e}");
    let lines: Vec<u64> = obs.bad.iter().map(|b| b.line).collect();
    assert_eq!(lines, [3, 4, 6, 7], "{:#?}", obs.bad);
    let texts: Vec<String> = obs.bad.iter().map(|b| b.to_string()).collect();
    assert!(
        texts[0].starts_with("line 3: bad MAC \"zz0e08000002\""),
        "{}",
        texts[0]
    );
    assert!(
        texts[1].contains("has 2 field(s) but the header names 3"),
        "{}",
        texts[1]
    );
    assert!(
        texts[2].contains("appears again (first on line 2)"),
        "{}",
        texts[2]
    );
    assert!(
        texts[3].contains("`model` is not valid UTF-8"),
        "{}",
        texts[3]
    );
    assert!(!obs.merging);

    // Nothing changed: the old device is untouched, no new one appeared.
    assert_eq!(store.count_devices(None).unwrap(), 1);
    let d = store.device(mac("000e08000001")).unwrap().unwrap();
    assert_eq!((d.key, d.model), (key_before, None));
}
}

on_both! {
fn skip_bad_imports_the_good_rows(db: &TestDb) {
    let mut store = db.store();
    let (r, obs) = import(&mut store, BAD, true);
    assert_eq!(
        r.unwrap(),
        ImportSummary {
            created: 2,
            updated: 0,
            skipped: 4
        }
    );
    assert_eq!(obs.bad.len(), 4);
    let macs: Vec<String> = store
        .devices(None)
        .unwrap()
        .iter()
        .map(|d| d.mac.to_string())
        .collect();
    assert_eq!(macs, ["000e08000001", "000e08000004"]);
    // The duplicate row did not overwrite the first occurrence.
    assert_eq!(
        store.device(mac("000e08000001")).unwrap().unwrap().vars["user"],
        "1001"
    );
}
}

on_both! {
fn header_problems_fail_before_anything(db: &TestDb) {
    let mut store = db.store();
    for (csv, want) in [
        (&b""[..], "the file is empty"),
        (
            b"serial,model\nSN1,CP\n",
            "no `mac` column (found: serial, model)",
        ),
        (b"000e08000001,SN1\n", "no `mac` column"),
        (b"mac,user,USER\n", "appears twice"),
        (b"mac,,user\n", "column 2 has no name"),
        (b"mac,us\xffer\n", "not valid UTF-8"),
    ] {
        let (r, _) = import(&mut store, csv, true);
        let e = r.unwrap_err();
        assert!(matches!(e, StoreError::ImportHeader(_)), "{e}");
        let msg = e.to_string();
        assert!(msg.starts_with("line 1: ") && msg.contains(want), "{msg}");
    }
    assert_eq!(store.count_devices(None).unwrap(), 0);
}
}

on_both! {
fn bom_crlf_blank_lines_and_multiline_fields(db: &TestDb) {
    let mut store = db.store();
    let csv =
        "\u{feff}mac,note\r\n000e08000001,\"two\r\nlines\"\r\n\r\nbad,x\r\n000e08000002,y\r\n";
    let (r, obs) = import(&mut store, csv.as_bytes(), true);
    assert_eq!(r.unwrap().created, 2);
    assert_eq!(obs.bad.len(), 1);
    assert_eq!(obs.bad[0].line, 5, "line numbers count physical lines");
    assert_eq!(
        store.device(mac("000e08000001")).unwrap().unwrap().vars["note"],
        "two\r\nlines"
    );
}
}

on_both! {
fn import_works_while_another_connection_reads_and_writes(db: &TestDb) {
    let mut server = db.store();
    server
        .import_csv(
            "mac\n000e08000001\n".as_bytes(),
            ImportOptions::default(),
            &mut NoObserver,
        )
        .unwrap();
    let mut cli = db.store();
    let mut csv = String::from("mac,user\n");
    for i in 0..5000u32 {
        csv.push_str(&format!("0a0000{i:06x},{i}\n"));
    }
    struct Interleave<'a>(&'a mut Store);
    impl ImportObserver for Interleave<'_> {
        fn progress(&mut self, _rows: u64) {
            // The parse phase holds no lock: the "server" can still write.
            self.0
                .record_status(
                    Mac::parse("000e08000001").unwrap(),
                    "192.0.2.1".parse().unwrap(),
                    Some("x"),
                    None,
                )
                .unwrap();
        }
    }
    let s = cli
        .import_csv(
            csv.as_bytes(),
            ImportOptions::default(),
            &mut Interleave(&mut server),
        )
        .unwrap();
    assert_eq!(s.created, 5000);
    assert_eq!(server.count_devices(None).unwrap(), 5001);
    assert_eq!(
        server
            .device(mac("000e08000001"))
            .unwrap()
            .unwrap()
            .status
            .firmware
            .as_deref(),
        Some("x")
    );
}
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Bad-row line numbers are physical lines, whatever the mix of
        /// LF/CRLF endings and blank lines.
        #[test]
        fn bad_row_lines_are_physical_lines(
            rows in proptest::collection::vec((any::<bool>(), any::<bool>(), 0usize..3), 1..30)
        ) {
            let mut csv = String::from("mac,v\n");
            let mut line = 2u64;
            let mut want = Vec::new();
            for (i, (good, crlf, blanks)) in rows.iter().enumerate() {
                let eol = if *crlf { "\r\n" } else { "\n" };
                for _ in 0..*blanks {
                    csv.push_str(eol);
                    line += 1;
                }
                if *good {
                    csv.push_str(&format!("0a00000000{i:02x},x{eol}"));
                } else {
                    csv.push_str(&format!("bad{i},x{eol}"));
                    want.push(line);
                }
                line += 1;
            }
            let dir = tempfile::tempdir().unwrap();
            let mut store = Store::open(dir.path()).unwrap();
            let (r, obs) = import(&mut store, csv.as_bytes(), true);
            let s = r.unwrap();
            let got: Vec<u64> = obs.bad.iter().map(|b| b.line).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(s.created as usize, rows.iter().filter(|r| r.0).count());
        }
    }
}

on_both! {
fn a_large_file_reports_every_repeat_and_bad_row_in_file_order(db: &TestDb) {
    // 30 000 rows (the PostgreSQL import streams them with COPY, in many
    // chunks): every 1 000th row repeats the MAC of the row 500 lines
    // before it, every 1 000th (offset 7) has a bad MAC, and one row with
    // a given key.
    let mut csv = String::from("mac,serial,user\n");
    let mut expect = Vec::new();
    for i in 0..30_000u64 {
        let line = i + 2;
        if i % 1000 == 999 {
            csv.push_str(&format!("{:012x},SN{i},u{i}\n", i - 500));
            expect.push((line, format!("first on line {}", line - 500)));
        } else if i % 1000 == 7 {
            csv.push_str(&format!("zz{i:010},SN{i},u{i}\n"));
            expect.push((line, "bad MAC".to_string()));
        } else {
            csv.push_str(&format!("{i:012x},SN{i},u{i}\n"));
        }
    }
    let mut store = db.store();
    let (r, obs) = import(&mut store, csv.as_bytes(), true);
    assert_eq!(
        r.unwrap(),
        ImportSummary {
            created: 29_940,
            updated: 0,
            skipped: 60
        }
    );
    let got: Vec<u64> = obs.bad.iter().map(|b| b.line).collect();
    assert_eq!(got, expect.iter().map(|e| e.0).collect::<Vec<_>>());
    for (b, (_, text)) in obs.bad.iter().zip(&expect) {
        assert!(b.to_string().contains(text.as_str()), "{b} lacks {text}");
    }
    assert_eq!(store.count_devices(None).unwrap(), 29_940);
    // The first row of a repeated MAC won.
    assert_eq!(store.device(mac("000000000001")).unwrap().unwrap().vars["user"], "u1");
    assert_eq!(store.device(mac(&format!("{:012x}", 499))).unwrap().unwrap().vars["user"], "u499");
    // Re-imported without the bad rows: every device updated, keys kept.
    let key = store.device(mac("000000000002")).unwrap().unwrap().key;
    let again: String = csv
        .lines()
        .enumerate()
        .filter(|(n, _)| *n == 0 || !expect.iter().any(|e| e.0 == *n as u64 + 1))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let (r, obs) = import(&mut store, again.as_bytes(), false);
    assert!(obs.bad.is_empty(), "{:?}", obs.bad);
    assert_eq!(
        r.unwrap(),
        ImportSummary {
            created: 0,
            updated: 29_940,
            skipped: 0
        }
    );
    assert_eq!(store.device(mac("000000000002")).unwrap().unwrap().key, key);
}
}
