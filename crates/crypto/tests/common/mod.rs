//! Runs the real third-party programs the interop tests compare against.
//! A missing program fails the test with the install hint; nothing skips.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// The profile the seeds use in their worked examples.
pub const XML: &[u8] = b"<flat-profile>\n  <GPP_A>12345678</GPP_A>\n  <Display_Name_1_ ua=\"rw\">\xed\x99\x8d\xea\xb8\xb8\xeb\x8f\x99</Display_Name_1_>\n</flat-profile>\n";

/// Runs `program args` with `stdin`, returning its whole output whatever
/// the exit status. Panics with an install hint if the program is missing.
pub fn run_output(program: &str, args: &[&str], stdin: &[u8], package: &str) -> Output {
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`{program}` not found: install {package} (scripts/install-peers)")
        }
        Err(e) => panic!("cannot start `{program}`: {e}"),
    };
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let data = stdin.to_vec();
    // Feed stdin from a thread so a large output cannot deadlock us.
    let feeder = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for peer program");
    feeder.join().expect("stdin feeder");
    out
}

/// Like [`run_output`] but requires success and returns stdout.
pub fn run(program: &str, args: &[&str], stdin: &[u8], package: &str) -> Vec<u8> {
    let out = run_output(program, args, stdin, package);
    assert!(
        out.status.success(),
        "`{program} {}` failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Deterministic pseudo-random bytes (xorshift) for binary payloads.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect()
}
