//! Property tests of the packet codec: every packet encodes and parses back
//! to itself, and arbitrary bytes never panic the parser or the cores.

use phoneprov_tftp::{ErrorCode, Mode, Packet, Request};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,20}"
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Octet), Just(Mode::Netascii), Just(Mode::Mail)]
}

fn request() -> impl Strategy<Value = Request> {
    (
        text(),
        mode(),
        proptest::collection::vec((text(), text()), 0..4),
    )
        .prop_map(|(filename, mode, options)| Request {
            filename,
            mode,
            options,
        })
}

fn packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        request().prop_map(Packet::Rrq),
        request().prop_map(Packet::Wrq),
        (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..600)).prop_map(|(block, data)| {
            Packet::Data {
                block,
                data: data.into(),
            }
        }),
        any::<u16>().prop_map(|block| Packet::Ack { block }),
        (any::<u16>(), text()).prop_map(|(c, message)| Packet::Error {
            code: ErrorCode(c),
            message
        }),
        proptest::collection::vec((text(), text()), 0..4)
            .prop_map(|options| Packet::Oack { options }),
    ]
}

proptest! {
    #[test]
    fn encode_then_parse_is_identity(p in packet()) {
        prop_assert_eq!(Packet::parse(&p.encode()).unwrap(), p);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        phoneprov_tftp::fuzzing::tftp_packet(&data);
    }

    #[test]
    fn request_shaped_bytes_never_panic(
        op in 1u8..=6,
        fields in proptest::collection::vec("[a-z0-9]{0,8}", 0..8),
        tail in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let mut data = vec![0, op];
        for f in fields {
            data.extend_from_slice(f.as_bytes());
            data.push(0);
        }
        data.extend(tail);
        phoneprov_tftp::fuzzing::tftp_packet(&data);
    }
}
