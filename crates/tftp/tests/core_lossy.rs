//! Deterministic tests of the sans-IO cores (R-TFTP-1): a client core and
//! server cores exchange packets through a simulated network that loses,
//! duplicates and reorders them (seeded RNG, virtual clock). Every transfer
//! must end byte-exact.

use phoneprov_tftp::{
    accept_request, ClientTransfer, ErrorCode, Mode, Packet, Rejection, RequestedOptions,
    ServerConfig, ServerTransfer, TransferError, TransferState,
};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// SplitMix64: tiny, seeded, good enough to drive loss decisions.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[derive(Clone, Copy)]
struct Faults {
    loss: f64,
    dup: f64,
    reorder: f64,
}

const CLEAN: Faults = Faults {
    loss: 0.0,
    dup: 0.0,
    reorder: 0.0,
};
const LOSSY: Faults = Faults {
    loss: 0.1,
    dup: 0.1,
    reorder: 0.1,
};

fn client_addr() -> SocketAddr {
    "10.0.0.1:53240".parse().unwrap()
}
fn listen_addr() -> SocketAddr {
    "10.0.0.2:69".parse().unwrap()
}
fn server_tid(i: usize) -> SocketAddr {
    SocketAddr::new("10.0.0.2".parse().unwrap(), 40000 + i as u16)
}

/// (delivery time, sequence, from, to, payload).
type InFlight = (Instant, u64, SocketAddr, SocketAddr, Vec<u8>);

struct Net {
    rng: Rng,
    faults: Faults,
    seq: u64,
    flight: BinaryHeap<Reverse<InFlight>>,
}

impl Net {
    fn send(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, payload: Vec<u8>) {
        if self.rng.chance(self.faults.loss) {
            return;
        }
        let copies = if self.rng.chance(self.faults.dup) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut delay = Duration::from_micros(500);
            if self.rng.chance(self.faults.reorder) {
                delay += Duration::from_micros(self.rng.next() % 20_000);
            }
            self.seq += 1;
            self.flight
                .push(Reverse((now + delay, self.seq, from, to, payload.clone())));
        }
    }
}

/// Outcome of one simulated transfer.
struct Run {
    data: Vec<u8>,
    client: TransferState,
    servers: Vec<TransferState>,
    /// DATA packets the servers put on the wire.
    data_sent: u64,
    tsize: Option<u64>,
    /// Every DATA payload the first server sent (for wire-format checks).
    first_wire_block: Option<Vec<u8>>,
    /// Virtual time the transfer took.
    elapsed: Duration,
}

struct Setup {
    content: Vec<u8>,
    mode: Mode,
    options: RequestedOptions,
    faults: Faults,
    seed: u64,
    config: ServerConfig,
    /// Content is pushed to the server core in chunks of this size, as an
    /// async reader would.
    chunk: usize,
}

impl Setup {
    fn new(content: Vec<u8>, blksize: u16, window: u16, faults: Faults, seed: u64) -> Setup {
        Setup {
            content,
            mode: Mode::Octet,
            options: RequestedOptions {
                blksize: Some(blksize),
                windowsize: Some(window),
                tsize: Some(0),
                timeout: None,
            },
            faults,
            seed,
            config: ServerConfig {
                max_windowsize: 65535,
                ..ServerConfig::default()
            },
            chunk: 3000,
        }
    }
}

fn run(setup: &Setup) -> Run {
    let t0 = Instant::now();
    let mut now = t0;
    let mut net = Net {
        rng: Rng(setup.seed),
        faults: setup.faults,
        seq: 0,
        flight: BinaryHeap::new(),
    };
    let mut client = ClientTransfer::get(
        listen_addr(),
        "file.bin",
        setup.mode,
        setup.options,
        Duration::from_secs(1),
        5,
        now,
    );
    let mut servers: Vec<(ServerTransfer, usize)> = Vec::new();
    let mut data = Vec::new();
    let mut data_sent = 0u64;
    let mut first_wire_block = None;
    for _step in 0..50_000_000u64 {
        for (i, (s, pushed)) in servers.iter_mut().enumerate() {
            while s.wants_data() > 0 && *pushed < setup.content.len() {
                let end = (*pushed + setup.chunk.min(s.wants_data())).min(setup.content.len());
                s.push_data(&setup.content[*pushed..end]);
                *pushed = end;
            }
            if *pushed == setup.content.len() {
                s.finish_data();
            }
            while let Some(tx) = s.poll_transmit() {
                if tx.payload[..2] == [0, 3] {
                    data_sent += 1;
                    if i == 0 && first_wire_block.is_none() {
                        first_wire_block = Some(tx.payload[4..].to_vec());
                    }
                }
                net.send(now, server_tid(i), tx.dest, tx.payload);
            }
        }
        while let Some(tx) = client.poll_transmit() {
            net.send(now, client_addr(), tx.dest, tx.payload);
        }
        data.extend(client.take_data());
        let all_servers_done = servers.iter().all(|(s, _)| s.is_finished());
        if client.is_finished() && all_servers_done && net.flight.is_empty() {
            break;
        }
        if matches!(client.state(), TransferState::Failed(_)) && all_servers_done {
            break;
        }
        // Advance the virtual clock to the next event.
        let mut next = net.flight.peek().map(|Reverse(p)| p.0);
        for d in std::iter::once(client.poll_timeout())
            .chain(servers.iter().map(|(s, _)| s.poll_timeout()))
            .flatten()
        {
            next = Some(next.map_or(d, |n: Instant| n.min(d)));
        }
        let Some(next) = next else { break };
        now = now.max(next);
        if now - t0 > Duration::from_secs(4 * 3600) {
            eprintln!("virtual {:?}", now - t0);
            break;
        }
        while let Some(Reverse(p)) = net.flight.peek() {
            if p.0 > now {
                break;
            }
            let Reverse((_, _, from, to, payload)) = net.flight.pop().unwrap();
            if to == client_addr() {
                client.handle_packet(from, &payload, now);
            } else if to == listen_addr() {
                match accept_request(&payload, &setup.config) {
                    Ok(req) => {
                        let size = Some(setup.content.len() as u64);
                        servers.push((
                            ServerTransfer::read(from, &req, size, &setup.config, now),
                            0,
                        ));
                    }
                    Err(rej) => {
                        if let Some(p) = rej.packet() {
                            net.send(now, server_tid(servers.len() + 1000), from, p);
                        }
                    }
                }
            } else if let Some((s, _)) = servers
                .iter_mut()
                .enumerate()
                .find_map(|(i, s)| (server_tid(i) == to).then_some(s))
            {
                s.handle_packet(from, &payload, now);
            }
        }
        client.handle_timeout(now);
        for (s, _) in servers.iter_mut() {
            s.handle_timeout(now);
        }
    }
    data.extend(client.take_data());
    Run {
        data,
        client: client.state().clone(),
        servers: servers.iter().map(|(s, _)| s.state().clone()).collect(),
        data_sent,
        tsize: client.options().and_then(|o| o.tsize),
        first_wire_block,
        elapsed: now - t0,
    }
}

fn assert_complete(r: &Run, content: &[u8], what: &str) {
    assert_eq!(
        r.client,
        TransferState::Done,
        "{what}: client state after {:?} of virtual time",
        r.elapsed
    );
    assert!(
        r.data == content,
        "{what}: received {} bytes, expected {}",
        r.data.len(),
        content.len()
    );
    assert!(
        r.servers.contains(&TransferState::Done),
        "{what}: no server transfer completed: {:?}",
        r.servers
    );
}

#[test]
fn r_tftp_lossy_transfers_are_byte_exact_for_blksize_windowsize_combos() {
    let mut rng = Rng(7);
    for (blksize, window) in [
        (512, 1),
        (8, 1),
        (1024, 4),
        (1428, 16),
        (300, 7),
        (65464, 2),
    ] {
        for size in [0usize, 1, blksize as usize, blksize as usize * 3, 100_000] {
            for seed in 0..3u64 {
                let content = rng.bytes(size);
                let setup = Setup::new(
                    content.clone(),
                    blksize,
                    window,
                    LOSSY,
                    seed * 31 + size as u64,
                );
                let r = run(&setup);
                assert_complete(
                    &r,
                    &content,
                    &format!("blksize {blksize} window {window} size {size} seed {seed}"),
                );
                assert_eq!(r.tsize, Some(size as u64));
            }
        }
    }
}

#[test]
fn r_tftp_heavy_loss_still_completes() {
    let content = Rng(3).bytes(50_000);
    let faults = Faults {
        loss: 0.25,
        dup: 0.25,
        reorder: 0.5,
    };
    for seed in 0..5 {
        let mut setup = Setup::new(content.clone(), 512, 8, faults, seed);
        setup.config.max_retries = 20;
        let r = run(&Setup {
            config: setup.config.clone(),
            ..setup
        });
        assert_complete(&r, &content, &format!("seed {seed}"));
    }
}

#[test]
fn r_tftp_block_number_rolls_over_past_65535() {
    // 70 000 blocks of 8 bytes: the 16-bit block number wraps once.
    let content = Rng(11).bytes(8 * 70_000 + 5);
    let r = run(&Setup::new(content.clone(), 8, 16, LOSSY, 1));
    assert_complete(&r, &content, "rollover windowed");
    let r = run(&Setup::new(content.clone(), 8, 1, CLEAN, 2));
    assert_complete(&r, &content, "rollover lockstep");
    assert_eq!(r.data_sent, 70_001, "clean lockstep sends each block once");
}

#[test]
fn r_tftp_without_options_uses_rfc1350_defaults() {
    let content = Rng(5).bytes(5000);
    let mut setup = Setup::new(content.clone(), 512, 1, LOSSY, 9);
    setup.options = RequestedOptions::default();
    let r = run(&setup);
    assert_complete(&r, &content, "no options");
    assert_eq!(r.tsize, None);
}

#[test]
fn r_tftp_netascii_is_converted_both_ways() {
    let text = b"line one\nline two\r\nbare\rcr\n".repeat(100);
    let mut setup = Setup::new(text.clone(), 512, 4, LOSSY, 4);
    setup.mode = Mode::Netascii;
    let r = run(&setup);
    assert_complete(&r, &text, "netascii");
    // tsize is not offered for netascii (the wire size differs).
    assert_eq!(r.tsize, None);

    let mut setup = Setup::new(text.clone(), 512, 1, CLEAN, 4);
    setup.mode = Mode::Netascii;
    let wire = run(&setup).first_wire_block.unwrap();
    assert!(wire.starts_with(b"line one\r\nline two\r\0\r\nbare\r\0cr\r\n"));
}

#[test]
fn r_tftp_option_errors_are_error_8() {
    let config = ServerConfig::default();
    for (name, value) in [
        ("blksize", "7"),
        ("blksize", "65465"),
        ("blksize", "big"),
        ("windowsize", "0"),
        ("windowsize", "70000"),
        ("timeout", "0"),
        ("timeout", "256"),
        ("tsize", "-1"),
    ] {
        let rrq = Packet::Rrq(phoneprov_tftp::Request {
            filename: "f".into(),
            mode: Mode::Octet,
            options: vec![(name.into(), value.into())],
        })
        .encode();
        match accept_request(&rrq, &config) {
            Err(Rejection::Error { code, .. }) => {
                assert_eq!(code, ErrorCode::OPTION_REFUSED, "{name}={value}")
            }
            other => panic!("{name}={value}: expected ERROR 8, got {other:?}"),
        }
    }
    // A client refuses an OACK that widens what it asked for, with ERROR 8.
    let now = Instant::now();
    let requested = RequestedOptions {
        blksize: Some(512),
        ..Default::default()
    };
    let mut c = ClientTransfer::get(
        listen_addr(),
        "f",
        Mode::Octet,
        requested,
        Duration::from_secs(1),
        3,
        now,
    );
    c.poll_transmit().unwrap();
    let oack = Packet::Oack {
        options: vec![("blksize".into(), "1024".into())],
    }
    .encode();
    c.handle_packet(server_tid(0), &oack, now);
    let reply = Packet::parse(&c.poll_transmit().unwrap().payload).unwrap();
    assert!(matches!(
        reply,
        Packet::Error {
            code: ErrorCode::OPTION_REFUSED,
            ..
        }
    ));
    assert!(matches!(
        c.state(),
        TransferState::Failed(TransferError::Options(_))
    ));
}

#[test]
fn r_tftp_requests_are_refused_with_clean_codes() {
    let config = ServerConfig::default();
    let wrq = Packet::Wrq(phoneprov_tftp::Request {
        filename: "up".into(),
        mode: Mode::Octet,
        options: vec![],
    })
    .encode();
    assert!(matches!(
        accept_request(&wrq, &config),
        Err(Rejection::Error {
            code: ErrorCode::ACCESS_VIOLATION,
            ..
        })
    ));
    assert!(matches!(
        accept_request(b"\x00\x01f\x00mail\x00", &config),
        Err(Rejection::Error {
            code: ErrorCode::ILLEGAL_OPERATION,
            ..
        })
    ));
    assert!(matches!(
        accept_request(b"\x00\x01f", &config),
        Err(Rejection::Error {
            code: ErrorCode::ILLEGAL_OPERATION,
            ..
        })
    ));
    assert!(matches!(
        accept_request(b"\x00\x04\x00\x01", &config),
        Err(Rejection::Ignore(_))
    ));
    let up = ServerConfig {
        max_upload: Some(100),
        ..ServerConfig::default()
    };
    let big = Packet::Wrq(phoneprov_tftp::Request {
        filename: "up".into(),
        mode: Mode::Octet,
        options: vec![("tsize".into(), "101".into())],
    })
    .encode();
    assert!(matches!(
        accept_request(&big, &up),
        Err(Rejection::Error {
            code: ErrorCode::DISK_FULL,
            ..
        })
    ));
}

fn rrq(options: &[(&str, &str)]) -> Vec<u8> {
    Packet::Rrq(phoneprov_tftp::Request {
        filename: "f".into(),
        mode: Mode::Octet,
        options: options
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    })
    .encode()
}

fn drain(s: &mut ServerTransfer) -> Vec<Packet> {
    std::iter::from_fn(|| s.poll_transmit())
        .map(|t| Packet::parse(&t.payload).unwrap())
        .collect()
}

#[test]
fn r_tftp_unknown_tid_gets_error_5_and_transfer_continues() {
    let config = ServerConfig::default();
    let now = Instant::now();
    let req = accept_request(&rrq(&[]), &config).unwrap();
    let content = vec![7u8; 1000];
    let mut s = ServerTransfer::read(client_addr(), &req, Some(1000), &config, now);
    s.push_data(&content);
    s.finish_data();
    assert!(matches!(drain(&mut s)[..], [Packet::Data { block: 1, .. }]));
    let stranger: SocketAddr = "10.9.9.9:1234".parse().unwrap();
    s.handle_packet(stranger, &Packet::Ack { block: 1 }.encode(), now);
    s.handle_packet(
        stranger,
        &Packet::Error {
            code: ErrorCode(0),
            message: "x".into(),
        }
        .encode(),
        now,
    );
    let out: Vec<_> = std::iter::from_fn(|| s.poll_transmit()).collect();
    assert_eq!(out.len(), 2);
    for t in &out {
        assert_eq!(t.dest, stranger);
        assert!(matches!(
            Packet::parse(&t.payload).unwrap(),
            Packet::Error {
                code: ErrorCode::UNKNOWN_TID,
                ..
            }
        ));
    }
    assert_eq!(*s.state(), TransferState::Running);
    s.handle_packet(client_addr(), &Packet::Ack { block: 1 }.encode(), now);
    assert!(
        matches!(drain(&mut s)[..], [Packet::Data { block: 2, ref data }] if data.len() == 488)
    );
    s.handle_packet(client_addr(), &Packet::Ack { block: 2 }.encode(), now);
    assert_eq!(*s.state(), TransferState::Done);

    // Client side: once the server's TID is known, others get ERROR 5.
    let mut c = ClientTransfer::get(
        listen_addr(),
        "f",
        Mode::Octet,
        RequestedOptions::default(),
        Duration::from_secs(1),
        3,
        now,
    );
    c.poll_transmit().unwrap();
    c.handle_packet(
        server_tid(0),
        &Packet::Data {
            block: 1,
            data: vec![1; 512].into(),
        }
        .encode(),
        now,
    );
    assert_eq!(c.poll_transmit().unwrap().dest, server_tid(0));
    c.handle_packet(
        server_tid(1),
        &Packet::Data {
            block: 2,
            data: vec![9; 3].into(),
        }
        .encode(),
        now,
    );
    let t = c.poll_transmit().unwrap();
    assert_eq!(t.dest, server_tid(1));
    assert!(matches!(
        Packet::parse(&t.payload).unwrap(),
        Packet::Error {
            code: ErrorCode::UNKNOWN_TID,
            ..
        }
    ));
    assert_eq!(*c.state(), TransferState::Running);
    c.handle_packet(
        server_tid(0),
        &Packet::Data {
            block: 2,
            data: vec![2; 3].into(),
        }
        .encode(),
        now,
    );
    assert_eq!(*c.state(), TransferState::Done);
    let mut expect = vec![1u8; 512];
    expect.extend([2, 2, 2]);
    assert_eq!(c.take_data(), expect);
}

#[test]
fn r_tftp_duplicate_acks_never_double_the_stream() {
    // Sorcerer's Apprentice: every ACK arrives twice; each block must still
    // be sent exactly once.
    let config = ServerConfig::default();
    let now = Instant::now();
    let req = accept_request(&rrq(&[]), &config).unwrap();
    let mut s = ServerTransfer::read(client_addr(), &req, None, &config, now);
    s.push_data(&vec![1u8; 512 * 20]);
    s.finish_data();
    let mut sent = 0;
    for block in 1..=21u16 {
        let out = drain(&mut s);
        assert_eq!(out.len(), 1, "block {block}: one DATA per new ACK");
        assert!(matches!(out[0], Packet::Data { block: b, .. } if b == block));
        sent += 1;
        let ack = Packet::Ack { block }.encode();
        s.handle_packet(client_addr(), &ack, now);
        s.handle_packet(client_addr(), &ack, now);
    }
    assert_eq!(sent, 21);
    assert_eq!(*s.state(), TransferState::Done);

    // Whole transfers with every packet duplicated and no loss: the servers
    // send each block exactly once.
    let content = Rng(1).bytes(512 * 40 + 17);
    for window in [1, 4] {
        let faults = Faults {
            loss: 0.0,
            dup: 1.0,
            reorder: 0.0,
        };
        let r = run(&Setup::new(content.clone(), 512, window, faults, 5));
        assert_complete(&r, &content, "all duplicated");
        // The RRQ is duplicated too, so a second server transfer starts and is
        // stopped by the client's ERROR 5 after at most a few blocks.
        let main_blocks = 41;
        assert!(
            r.data_sent <= main_blocks + 2 * window as u64,
            "window {window}: {} DATA sent for {main_blocks} blocks",
            r.data_sent
        );
    }
}

#[test]
fn r_tftp_retry_limit_ends_in_timeout() {
    // Client talking to nobody: RRQ sent 1 + retries times, then Timeout.
    let t0 = Instant::now();
    let mut c = ClientTransfer::get(
        listen_addr(),
        "f",
        Mode::Octet,
        RequestedOptions::default(),
        Duration::from_secs(2),
        3,
        t0,
    );
    let mut sends = 0;
    let mut now = t0;
    while !c.is_finished() {
        while c.poll_transmit().is_some() {
            sends += 1;
        }
        now = c.poll_timeout().unwrap();
        c.handle_timeout(now);
    }
    assert_eq!(sends, 4);
    assert_eq!(now - t0, Duration::from_secs(8));
    assert!(matches!(
        c.state(),
        TransferState::Failed(TransferError::Timeout { retries: 3 })
    ));

    // Server whose client vanished after the first block.
    let config = ServerConfig {
        max_retries: 2,
        ..ServerConfig::default()
    };
    let req = accept_request(&rrq(&[("blksize", "1024"), ("windowsize", "4")]), &config).unwrap();
    let mut s = ServerTransfer::read(client_addr(), &req, Some(10_000), &config, t0);
    s.push_data(&[0u8; 10_000]);
    s.finish_data();
    assert!(matches!(drain(&mut s)[..], [Packet::Oack { .. }]));
    s.handle_packet(client_addr(), &Packet::Ack { block: 0 }.encode(), t0);
    let mut datas = 0;
    let mut now;
    while !s.is_finished() {
        datas += drain(&mut s).len();
        now = s.poll_timeout().unwrap();
        s.handle_timeout(now);
    }
    assert_eq!(datas, 4 * 3, "window sent once plus two retransmissions");
    assert!(matches!(
        s.state(),
        TransferState::Failed(TransferError::Timeout { .. })
    ));
}

#[test]
fn r_tftp_upload_core_receives_with_size_cap() {
    let config = ServerConfig {
        max_upload: Some(1000),
        ..ServerConfig::default()
    };
    let now = Instant::now();
    let wrq = Packet::Wrq(phoneprov_tftp::Request {
        filename: "up.bin".into(),
        mode: Mode::Octet,
        options: vec![("blksize".into(), "600".into())],
    })
    .encode();
    let req = accept_request(&wrq, &config).unwrap();
    let mut s = ServerTransfer::write(client_addr(), &req, &config, now);
    assert!(matches!(drain(&mut s)[..], [Packet::Oack { .. }]));
    s.handle_packet(
        client_addr(),
        &Packet::Data {
            block: 1,
            data: vec![1; 600].into(),
        }
        .encode(),
        now,
    );
    assert!(matches!(drain(&mut s)[..], [Packet::Ack { block: 1 }]));
    s.handle_packet(
        client_addr(),
        &Packet::Data {
            block: 2,
            data: vec![2; 100].into(),
        }
        .encode(),
        now,
    );
    assert!(matches!(drain(&mut s)[..], [Packet::Ack { block: 2 }]));
    assert_eq!(*s.state(), TransferState::Done);
    assert_eq!(s.take_received().len(), 700);

    let mut s = ServerTransfer::write(client_addr(), &req, &config, now);
    drain(&mut s);
    s.handle_packet(
        client_addr(),
        &Packet::Data {
            block: 1,
            data: vec![1; 600].into(),
        }
        .encode(),
        now,
    );
    s.handle_packet(
        client_addr(),
        &Packet::Data {
            block: 2,
            data: vec![1; 600].into(),
        }
        .encode(),
        now,
    );
    let out = drain(&mut s);
    assert!(matches!(
        out.last(),
        Some(Packet::Error {
            code: ErrorCode::DISK_FULL,
            ..
        })
    ));
    assert!(s.is_finished());
}
