//! Scale check for `device import` (issue 4): generates a CSV of N devices
//! (default 1 000 000) in a temp dir, imports it into a fresh inventory in
//! one streaming pass, and prints the elapsed time and the peak RSS
//! (`VmHWM` from /proc/self/status). Targets: well under a minute, RSS at
//! most 300 MB, i.e. memory does not grow with the file.
//!
//! With `--copy` it then times `db copy` (issue 13 item 3: target under
//! two minutes for a million devices) from that SQLite inventory into a
//! fresh database of a throwaway PostgreSQL cluster
//! (`phoneprov_testpeers::pg`, `fsync = off`) and back into a new SQLite
//! file.
//!
//! `cargo run --release -p phoneprov-store --example import_1m [N] [--copy]`

use std::io::{BufWriter, Write};
use std::time::Instant;

use phoneprov_store::{copy_database, Database, ImportObserver, ImportOptions, Store};

struct Phases {
    start: Instant,
}
impl ImportObserver for Phases {
    fn merging(&mut self) {
        println!(
            "  parsed and staged in {:.2} s",
            self.start.elapsed().as_secs_f64()
        );
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let copy = std::env::args().any(|a| a == "--copy");
    let n: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir()?;
    let csv = tmp.path().join("devices.csv");
    let t = Instant::now();
    {
        let mut w = BufWriter::new(std::fs::File::create(&csv)?);
        writeln!(w, "mac,serial,model,group,user,password,display name")?;
        for i in 0..n {
            // Scatter MACs (distinct, as multiplying by an odd factor is a
            // bijection mod 2^48) so rows do not arrive in key order.
            let mac = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) & 0xffff_ffff_ffff;
            writeln!(
                w,
                "{mac:012x},SN{i:010},CP-8841-3PCC,group{},{},pw{i:x},User {i}",
                i % 50,
                100_000 + i
            )?;
        }
        w.flush()?;
    }
    let size = std::fs::metadata(&csv)?.len();
    println!(
        "generated {n} rows ({:.1} MB) in {:.2} s; peak RSS so far {} KiB",
        size as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        peak_rss_kib().unwrap_or(0)
    );

    let data = tmp.path().join("data");
    let start = Instant::now();
    let mut store = Store::open(&data)?;
    let file = std::io::BufReader::with_capacity(64 * 1024, std::fs::File::open(&csv)?);
    let summary = store.import_csv(file, ImportOptions::default(), &mut Phases { start })?;
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(summary.created, n, "every generated MAC is distinct");
    assert_eq!(store.count_devices(None)?, n);
    let db = std::fs::metadata(data.join("phoneprov.db"))?.len();
    println!(
        "imported {} devices in {secs:.2} s ({:.0} rows/s); database {:.1} MB",
        summary.created,
        n as f64 / secs,
        db as f64 / 1e6
    );
    println!("peak RSS (VmHWM): {} KiB", peak_rss_kib().unwrap_or(0));
    if copy {
        let url = phoneprov_testpeers::pg().fresh_db();
        let mut pg = Store::connect_unmigrated(&Database::Postgres(url))?;
        let start = Instant::now();
        let counts = copy_database(&store, &mut pg, false, |_, _, _| {})?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "db copy SQLite -> PostgreSQL in {secs:.2} s ({:.0} devices/s): {counts:?}",
            n as f64 / secs
        );
        let back = Store::connect_unmigrated(&Database::Sqlite(tmp.path().join("back")));
        let mut back = back?;
        let start = Instant::now();
        copy_database(&pg, &mut back, false, |_, _, _| {})?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "db copy PostgreSQL -> SQLite in {secs:.2} s ({:.0} devices/s)",
            n as f64 / secs
        );
    }
    Ok(())
}
