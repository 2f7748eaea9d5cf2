//! Compresses a typical 6 KB profile 2 000 times (for instruction counts
//! under callgrind: `valgrind --tool=callgrind target/release/examples/gzip_cost`).
fn main() {
    let mut p = String::from("<flat-profile>\n");
    for i in 0..120 {
        p.push_str(&format!(
            "  <Line_Enable_{i}_ ua=\"na\">Yes</Line_Enable_{i}_>\n"
        ));
    }
    p.push_str("</flat-profile>\n");
    let mut total = 0;
    for _ in 0..2000 {
        total += phoneprov_crypto::gzip::compress(p.as_bytes()).len();
    }
    println!("{} bytes in, {} out per call", p.len(), total / 2000);
}
