//! Fuzz entry point shared by `fuzz/fuzz_targets/tftp_packet.rs` and the
//! corpus replay test, so both exercise exactly the same code.

use crate::client_core::ClientTransfer;
use crate::options::RequestedOptions;
use crate::packet::Mode;
use crate::packet::Packet;
use crate::server_core::{accept_request, ServerConfig, ServerTransfer};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Parses `data` as a packet and checks `parse(encode(p)) == p`; then uses
/// it as a request and splits it (at `0xff` bytes) into datagrams fed to a
/// server read transfer, a server write transfer and a client transfer, with
/// time moving forward. Panics only on a bug.
pub fn tftp_packet(data: &[u8]) {
    if let Ok(p) = Packet::parse(data) {
        let encoded = p.encode();
        let again = Packet::parse(&encoded).expect("an encoded packet parses");
        assert_eq!(p, again, "encode/parse round trip");
    }
    let peer: SocketAddr = "192.0.2.1:1234".parse().expect("literal");
    let stranger: SocketAddr = "192.0.2.9:4321".parse().expect("literal");
    let t0 = Instant::now();
    let config = ServerConfig {
        max_upload: Some(4096),
        ..ServerConfig::default()
    };
    let request = accept_request(data, &config).ok();
    let rrq = accept_request(
        b"\x00\x01f\x00octet\x00blksize\x0016\x00windowsize\x004\x00",
        &config,
    )
    .expect("valid request");
    let wrq = accept_request(b"\x00\x02f\x00netascii\x00blksize\x0016\x00", &config)
        .expect("valid request");
    let mut servers = vec![
        ServerTransfer::read(peer, &rrq, Some(100), &config, t0),
        ServerTransfer::write(peer, &wrq, &config, t0),
    ];
    if let Some(r) = &request {
        servers.push(match r.direction {
            crate::Direction::Read => ServerTransfer::read(peer, r, None, &config, t0),
            crate::Direction::Write => ServerTransfer::write(peer, r, &config, t0),
        });
    }
    let requested = RequestedOptions {
        blksize: Some(16),
        windowsize: Some(4),
        tsize: Some(0),
        timeout: None,
    };
    let mut client = ClientTransfer::get(
        peer,
        "f",
        Mode::Netascii,
        requested,
        Duration::from_secs(1),
        3,
        t0,
    );
    let mut now = t0;
    for (i, datagram) in data.split(|&b| b == 0xff).enumerate() {
        now += Duration::from_millis(300);
        let from = if i % 7 == 6 { stranger } else { peer };
        for s in servers.iter_mut() {
            if s.wants_data() > 0 {
                s.push_data(&datagram[..datagram.len().min(40)]);
                if i % 3 == 2 {
                    s.finish_data();
                }
            }
            s.handle_packet(from, datagram, now);
            s.handle_timeout(now);
            while let Some(t) = s.poll_transmit() {
                assert!(
                    Packet::parse(&t.payload).is_ok(),
                    "server sent a malformed packet"
                );
            }
            let _ = s.take_received();
        }
        client.handle_packet(from, datagram, now);
        client.handle_timeout(now);
        while let Some(t) = client.poll_transmit() {
            assert!(
                Packet::parse(&t.payload).is_ok(),
                "client sent a malformed packet"
            );
        }
        let _ = client.take_data();
    }
}
