//! Property tests (R-TR69-2): for generated envelopes carrying every RPC
//! kind in every CWMP version, `parse_envelope(write_envelope(e)) == e`.
//!
//! Generated text includes XML specials (`& < > " '`), `\r`, tabs, control
//! characters and non-ASCII; trimmed fields (names, keys, URLs) are
//! generated without surrounding whitespace since the parser trims them.

use phoneprov_cwmp::*;
use proptest::prelude::*;

/// Raw text (parameter values, passwords): anything but NUL.
fn raw() -> impl Strategy<Value = String> {
    "[ -~\t\n\r\u{1}-\u{8}\u{b}\u{1f}é日本\u{fffd}]{0,16}"
}

/// Text the parser trims: no whitespace at either end.
fn trimmed() -> impl Strategy<Value = String> {
    raw().prop_map(|s| s.trim().to_string())
}

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_]{0,6}(\\.[A-Za-z0-9_]{1,6}){0,4}\\.?"
}

fn value_type() -> impl Strategy<Value = ValueType> {
    prop_oneof![
        prop::sample::select(ValueType::KNOWN.to_vec()),
        "[a-z][A-Za-z]{0,8}".prop_map(|s| ValueType::parse(&s)),
    ]
}

fn param_value() -> impl Strategy<Value = ParameterValue> {
    (name(), raw(), value_type()).prop_map(|(name, value, kind)| ParameterValue {
        name,
        value,
        kind,
    })
}

fn params() -> impl Strategy<Value = Vec<ParameterValue>> {
    prop::collection::vec(param_value(), 0..5)
}

fn names() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(name(), 0..5)
}

fn event_code() -> impl Strategy<Value = EventCode> {
    prop_oneof![
        prop::sample::select(EventCode::KNOWN.to_vec()),
        "[0-9X] [A-Z]{1,8}( [A-Z]{1,5})?".prop_map(|s| EventCode::parse(&s)),
    ]
}

fn file_type() -> impl Strategy<Value = FileType> {
    prop_oneof![
        Just(FileType::Firmware),
        Just(FileType::WebContent),
        Just(FileType::VendorConfig),
        Just(FileType::CustomCa),
        ("[0-9A-F]{6}", "[A-Za-z][A-Za-z ]{0,10}[a-z]")
            .prop_filter("not Custom CA", |(_, n)| !n
                .eq_ignore_ascii_case("Custom CA"))
            .prop_map(|(oui, name)| FileType::parse(&format!("X {oui} {name}"))),
        "[4-9] [A-Z][a-z]{1,8}".prop_map(|s| FileType::parse(&s)),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    let pf = (name(), 9000u32..9020, trimmed()).prop_map(|(name, c, message)| ParameterFault {
        name,
        code: FaultCode(c),
        message,
    });
    (
        prop_oneof![8000u32..8006, 9000u32..9020, 9800u32..9900],
        trimmed(),
        prop::collection::vec(pf, 0..3),
    )
        .prop_map(|(c, message, parameter_faults)| Fault {
            code: FaultCode(c),
            message,
            parameter_faults,
        })
}

fn inform() -> impl Strategy<Value = Inform> {
    let device =
        (trimmed(), "[0-9A-F]{6}", trimmed(), trimmed()).prop_map(|(m, o, p, s)| DeviceId {
            manufacturer: m,
            oui: o,
            product_class: p,
            serial_number: s,
        });
    let event =
        (event_code(), trimmed()).prop_map(|(code, command_key)| Event { code, command_key });
    (
        device,
        prop::collection::vec(event, 0..4),
        any::<u32>(),
        trimmed(),
        any::<u32>(),
        params(),
    )
        .prop_map(
            |(device_id, events, max_envelopes, current_time, retry_count, parameters)| Inform {
                device_id,
                events,
                max_envelopes,
                current_time,
                retry_count,
                parameters,
            },
        )
}

fn download() -> impl Strategy<Value = Download> {
    (
        (trimmed(), file_type(), trimmed(), trimmed(), raw()),
        (any::<u64>(), trimmed(), any::<u32>(), trimmed(), trimmed()),
    )
        .prop_map(
            |(
                (command_key, file_type, url, username, password),
                (file_size, target_file_name, delay_seconds, success_url, failure_url),
            )| Download {
                command_key,
                file_type,
                url,
                username,
                password,
                file_size,
                target_file_name,
                delay_seconds,
                success_url,
                failure_url,
            },
        )
}

/// One strategy per RPC kind; `every_rpc_kind_is_generated` checks that
/// none is missing.
fn rpc() -> impl Strategy<Value = Rpc> {
    let set_attr = (name(), any::<bool>(), 0u8..3, any::<bool>(), names()).prop_map(
        |(name, notification_change, notification, access_list_change, access_list)| {
            SetParameterAttribute {
                name,
                notification_change,
                notification,
                access_list_change,
                access_list,
            }
        },
    );
    let attr = (name(), 0u8..3, names()).prop_map(|(name, notification, access_list)| {
        ParameterAttribute {
            name,
            notification,
            access_list,
        }
    });
    let info =
        (name(), any::<bool>()).prop_map(|(name, writable)| ParameterInfo { name, writable });
    let tc = (trimmed(), any::<u32>(), trimmed(), trimmed(), trimmed()).prop_map(
        |(command_key, fault_code, fault_string, start_time, complete_time)| TransferComplete {
            command_key,
            fault_code,
            fault_string,
            start_time,
            complete_time,
        },
    );
    prop_oneof![
        inform().prop_map(Rpc::Inform),
        any::<u32>().prop_map(|max_envelopes| Rpc::InformResponse { max_envelopes }),
        tc.prop_map(Rpc::TransferComplete),
        Just(Rpc::TransferCompleteResponse),
        Just(Rpc::GetRPCMethods),
        names().prop_map(Rpc::GetRPCMethodsResponse),
        (params(), trimmed()).prop_map(|(list, parameter_key)| Rpc::SetParameterValues {
            list,
            parameter_key
        }),
        any::<u8>().prop_map(|status| Rpc::SetParameterValuesResponse { status }),
        names().prop_map(|names| Rpc::GetParameterValues { names }),
        params().prop_map(Rpc::GetParameterValuesResponse),
        (name(), any::<bool>())
            .prop_map(|(path, next_level)| Rpc::GetParameterNames { path, next_level }),
        prop::collection::vec(info, 0..4).prop_map(Rpc::GetParameterNamesResponse),
        prop::collection::vec(set_attr, 0..3).prop_map(Rpc::SetParameterAttributes),
        Just(Rpc::SetParameterAttributesResponse),
        names().prop_map(|names| Rpc::GetParameterAttributes { names }),
        prop::collection::vec(attr, 0..3).prop_map(Rpc::GetParameterAttributesResponse),
        (name(), trimmed()).prop_map(|(object_name, parameter_key)| Rpc::AddObject {
            object_name,
            parameter_key
        }),
        (any::<u32>(), any::<u8>()).prop_map(|(instance_number, status)| {
            Rpc::AddObjectResponse {
                instance_number,
                status,
            }
        }),
        (name(), trimmed()).prop_map(|(object_name, parameter_key)| Rpc::DeleteObject {
            object_name,
            parameter_key
        }),
        any::<u8>().prop_map(|status| Rpc::DeleteObjectResponse { status }),
        trimmed().prop_map(|command_key| Rpc::Reboot { command_key }),
        Just(Rpc::RebootResponse),
        Just(Rpc::FactoryReset),
        Just(Rpc::FactoryResetResponse),
        download().prop_map(Rpc::Download),
        (any::<u8>(), trimmed(), trimmed()).prop_map(|(status, start_time, complete_time)| {
            Rpc::DownloadResponse {
                status,
                start_time,
                complete_time,
            }
        }),
        fault().prop_map(Rpc::Fault),
        "(Upload|ScheduleInform|X_[A-Z]{3}_[A-Za-z]{1,8})"
            .prop_map(|method| Rpc::Unknown { method }),
    ]
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (
        prop::sample::select(CwmpVersion::ALL.to_vec()),
        prop::option::of(trimmed()),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        rpc(),
    )
        .prop_map(
            |(version, id, hold_requests, no_more_requests, body)| Envelope {
                version,
                id,
                hold_requests,
                no_more_requests,
                body,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn r_tr69_2_write_then_parse_is_identity(env in envelope()) {
        let bytes = write_envelope(&env);
        let parsed = parse_envelope(&bytes).map_err(|e| {
            TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&bytes)))
        })?;
        prop_assert_eq!(parsed, env);
    }
}

#[test]
fn every_rpc_kind_is_generated() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..4000 {
        let rpc = rpc().new_tree(&mut runner).unwrap().current();
        let kind = match &rpc {
            Rpc::Unknown { .. } => "Unknown".to_string(),
            r => r.method_name().to_string(),
        };
        seen.insert(kind);
    }
    // 13 requests + 13 responses + Fault + Unknown.
    assert_eq!(seen.len(), 28, "{seen:?}");
}

fn seeds() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/envelopes");
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Recorded envelopes with random byte edits: parsing never panics,
    /// and whatever parses survives write → parse unchanged (the same
    /// invariant as the `soap_parse` fuzz target).
    #[test]
    fn r_tr69_2_mutated_recordings_keep_the_parse_write_invariant(
        seed in 0usize..12,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let seeds = seeds();
        let mut data = seeds[seed % seeds.len()].clone();
        for (at, byte, op) in edits {
            if data.is_empty() { break; }
            let i = at.index(data.len());
            match op {
                0 => data[i] = byte,
                1 => { data.remove(i); }
                _ => data.insert(i, byte),
            }
        }
        phoneprov_cwmp::fuzzing::soap_parse(&data);
    }
}
