//! Recorded envelopes in several vendor styles (R-TR69-2): different SOAP
//! and CWMP prefixes, default namespaces, CWMP 1.0–1.4, a missing Header,
//! empty fields, wrong `arrayType` counts, a Cisco 3PCC Inform and a
//! GenieACS-simulator-style Inform. Each is parsed with specific
//! expectations and must survive write → parse unchanged.

use phoneprov_cwmp::*;
use std::path::PathBuf;

fn load(name: &str) -> Envelope {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/envelopes")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let env = parse_envelope(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again = parse_envelope(&write_envelope(&env)).expect("written form parses");
    assert_eq!(again, env, "{name}: write → parse changed the envelope");
    env
}

#[test]
fn r_tr69_2_every_recorded_envelope_parses_and_round_trips() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/envelopes");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        load(&name);
        n += 1;
    }
    assert!(n >= 10, "expected the recorded envelopes, found {n}");
}

#[test]
fn r_tr69_3_cisco_3pcc_inform_bootstrap() {
    let env = load("cisco_3pcc_inform_bootstrap_1-0.xml");
    assert_eq!(env.version, CwmpVersion::V1_0);
    assert_eq!(env.id.as_deref(), Some("1"));
    let Rpc::Inform(inform) = env.body else {
        panic!("not an Inform: {:?}", env.body)
    };
    assert_eq!(
        inform.device_id,
        DeviceId {
            manufacturer: "Cisco".into(),
            oui: "000E08".into(),
            product_class: "CP-8841-3PCC".into(),
            serial_number: "FCH2231A7QX".into(),
        }
    );
    assert_eq!(inform.device_id.key(), "000E08-CP-8841-3PCC-FCH2231A7QX");
    assert!(inform.has_event(&EventCode::Bootstrap) && inform.has_event(&EventCode::Boot));
    assert_eq!(inform.max_envelopes, 1);
    assert_eq!(inform.parameters.len(), 6);
    assert_eq!(
        inform.parameter("Device.DeviceInfo.SoftwareVersion"),
        Some("sip88xx.12-0-1MPP-407")
    );
    assert_eq!(
        inform.parameter("Device.ManagementServer.ConnectionRequestURL"),
        Some("http://192.168.1.57:7547/cr/a9d03c1e")
    );
    assert_eq!(
        inform.parameter("Device.ManagementServer.ParameterKey"),
        Some("")
    );
}

#[test]
fn r_tr69_3_genieacs_style_inform_with_lowercase_prefixes_and_pretty_print() {
    let env = load("genieacs_sim_inform_periodic_1-0.xml");
    assert_eq!(env.id.as_deref(), Some("1695207446937"));
    let Rpc::Inform(inform) = env.body else {
        panic!("not an Inform")
    };
    assert_eq!(
        inform.events,
        vec![
            Event::new(EventCode::Periodic),
            Event::new(EventCode::ValueChange)
        ]
    );
    let interval = &inform.parameters[3];
    assert_eq!(interval.kind, ValueType::UnsignedInt);
    assert_eq!(interval.value, "3600");
    assert_eq!(
        inform.parameter("Device.ManagementServer.ParameterKey"),
        Some("pk-42")
    );
}

#[test]
fn r_tr69_2_soap_and_ns1_prefixes_with_other_xsd_prefix() {
    let env = load("soap_ns1_getparametervaluesresponse_1-1.xml");
    assert_eq!(env.version, CwmpVersion::V1_1);
    assert_eq!(env.id.as_deref(), Some("acs-7"));
    let Rpc::GetParameterValuesResponse(list) = env.body else {
        panic!("wrong RPC")
    };
    let kinds: Vec<_> = list.iter().map(|p| p.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            ValueType::UnsignedInt,
            ValueType::String,
            ValueType::Boolean
        ]
    );
    assert_eq!(list[1].value, "RSA:!aNULL:!eNULL");
}

#[test]
fn r_tr69_2_soapenv_prefix_default_cwmp_namespace_1_4_hold_requests() {
    let env = load("soapenv_default_ns_setparametervalues_1-4.xml");
    assert_eq!(env.version, CwmpVersion::V1_4);
    assert_eq!(env.id.as_deref(), Some("set-1"));
    assert_eq!(env.hold_requests, Some(true));
    let Rpc::SetParameterValues {
        list,
        parameter_key,
    } = env.body
    else {
        panic!("wrong RPC")
    };
    assert_eq!(parameter_key, "cfg-2026-11-21");
    assert_eq!(list[0].value, "RSA:!aNULL:!eNULL & more");
    assert_eq!(list[2].value, "pool.ntp.org", "CDATA is text");
    assert_eq!(
        list[2].kind,
        ValueType::String,
        "missing xsi:type is string"
    );
}

#[test]
fn r_tr69_2_missing_header_is_tolerated() {
    let env = load("missing_header_transfercomplete_1-3.xml");
    assert_eq!(env.version, CwmpVersion::V1_3);
    assert_eq!(env.id, None);
    assert_eq!(env.hold_requests, None);
    let Rpc::TransferComplete(tc) = env.body else {
        panic!("wrong RPC")
    };
    assert_eq!(tc.command_key, "fw-12.0.1");
    assert_eq!(tc.fault_code, 0);
    assert_eq!(tc.complete_time, "2026-11-21T20:04:30Z");
}

#[test]
fn r_tr69_2_empty_fields_and_custom_ca_file_type() {
    let env = load("empty_fields_download_custom_ca_1-2.xml");
    let Rpc::Download(d) = env.body else {
        panic!("wrong RPC")
    };
    assert_eq!(d.file_type, FileType::CustomCa);
    assert_eq!(
        d.url, "https://prov.example.com/ca/custom.pem",
        "URL trimmed"
    );
    assert_eq!((d.username.as_str(), d.password.as_str()), ("", ""));
    assert_eq!(d.file_size, 0, "empty FileSize reads as 0");
    assert_eq!(d.target_file_name, "");
    assert_eq!(d.success_url, "", "absent SuccessURL reads as empty");
}

#[test]
fn r_tr69_2_firmware_download_keeps_password_spaces() {
    let env = load("firmware_download_no_soapaction_1-0.xml");
    let Rpc::Download(d) = env.body else {
        panic!("wrong RPC")
    };
    assert_eq!(d.file_type, FileType::Firmware);
    assert_eq!(d.file_size, 51_234_567);
    assert_eq!(d.delay_seconds, 5);
    assert_eq!(d.password, "s3cret ");
}

#[test]
fn r_tr69_2_wrong_array_type_counts_are_ignored() {
    let env = load("wrong_arraytype_counts_gpn_response_1-0.xml");
    let Rpc::GetParameterNamesResponse(list) = env.body else {
        panic!("wrong RPC")
    };
    assert_eq!(list.len(), 3, "arrayType says 5, three items are present");
    assert!(!list[1].writable && list[2].writable);
    // The written form states the real count.
    let text = String::from_utf8(write_envelope(&load(
        "wrong_arraytype_counts_gpn_response_1-0.xml",
    )))
    .unwrap();
    assert!(text.contains("cwmp:ParameterInfoStruct[3]"), "{text}");
}

#[test]
fn r_tr69_2_set_parameter_values_fault_details() {
    let env = load("fault_set_parameter_values_1-0.xml");
    let Rpc::Fault(f) = env.body else {
        panic!("wrong RPC")
    };
    assert_eq!(f.code, FaultCode::INVALID_ARGUMENTS);
    let codes: Vec<_> = f.parameter_faults.iter().map(|p| p.code).collect();
    assert_eq!(
        codes,
        [
            FaultCode::NON_WRITABLE_PARAMETER,
            FaultCode::INVALID_PARAMETER_VALUE
        ]
    );
    assert_eq!(env.version, CwmpVersion::V1_0, "version from the ID header");
}

#[test]
fn r_tr69_3_no_more_requests_and_m_reboot_event() {
    let env = load("no_more_requests_inform_1-0.xml");
    assert_eq!(env.no_more_requests, Some(true));
    let Rpc::Inform(inform) = env.body else {
        panic!("wrong RPC")
    };
    assert_eq!(inform.events[1].code, EventCode::MReboot);
    assert_eq!(inform.events[1].command_key, "reboot-17");
    assert_eq!(inform.retry_count, 2);
    assert!(inform.parameters.is_empty());
}

#[test]
fn r_tr69_2_inform_response_with_hold_requests() {
    let env = load("inform_response_hold_requests_1-1.xml");
    assert_eq!(env.hold_requests, Some(true));
    assert_eq!(env.body, Rpc::InformResponse { max_envelopes: 1 });
}

#[test]
fn r_tr69_2_unknown_method_is_kept_by_name() {
    let env = load("unknown_method_schedule_inform_1-2.xml");
    assert_eq!(
        env.body,
        Rpc::Unknown {
            method: "ScheduleInform".into()
        }
    );
    assert_eq!(env.id.as_deref(), Some("si-1"));
}

#[test]
fn r_tr69_2_written_envelope_has_must_understand_and_xsi_types() {
    let mut env = Envelope::new(
        CwmpVersion::V1_2,
        Some("x1".into()),
        Rpc::SetParameterValues {
            list: vec![
                ParameterValue::new("A.B", "5", ValueType::UnsignedInt),
                ParameterValue::new("A.C", "true", ValueType::Boolean),
                ParameterValue::new("A.D", UNKNOWN_TIME, ValueType::DateTime),
                ParameterValue::string("A.E", "x"),
            ],
            parameter_key: "k".into(),
        },
    );
    env.hold_requests = Some(false);
    let text = String::from_utf8(write_envelope(&env)).unwrap();
    for needle in [
        r#"xmlns:cwmp="urn:dslforum-org:cwmp-1-2""#,
        r#"<cwmp:ID SOAP-ENV:mustUnderstand="1">x1</cwmp:ID>"#,
        r#"<cwmp:HoldRequests SOAP-ENV:mustUnderstand="1">0</cwmp:HoldRequests>"#,
        r#"SOAP-ENC:arrayType="cwmp:ParameterValueStruct[4]""#,
        r#"xsi:type="xsd:unsignedInt""#,
        r#"xsi:type="xsd:boolean""#,
        r#"xsi:type="xsd:dateTime""#,
        r#"xsi:type="xsd:string""#,
    ] {
        assert!(text.contains(needle), "missing {needle} in {text}");
    }
}

#[test]
fn r_tr69_2_malformed_input_gives_errors_not_panics() {
    type Check = fn(&SoapError) -> bool;
    let cases: [(&[u8], Check); 7] = [
        (b"", |e| *e == SoapError::EmptyMessage),
        (b"\xff\xfe<a/>", |e| matches!(e, SoapError::NotUtf8(_))),
        (b"<Envelope><Body>", |e| matches!(e, SoapError::Xml(_))),
        (b"<html><body/></html>", |e| {
            matches!(e, SoapError::NotEnvelope(_))
        }),
        (b"<s:Envelope xmlns:s='x'/>", |e| *e == SoapError::NoBody),
        (b"<s:Envelope xmlns:s='x'><s:Body/></s:Envelope>", |e| {
            *e == SoapError::EmptyBody
        }),
        (
            b"<E:Envelope xmlns:E='x'><E:Body><AddObjectResponse><InstanceNumber>-1</InstanceNumber></AddObjectResponse></E:Body></E:Envelope>",
            |e| matches!(e, SoapError::InvalidField { .. }),
        ),
    ];
    for (input, check) in cases {
        let err = parse_envelope(input).unwrap_err();
        assert!(
            check(&err),
            "{:?} gave {err:?}",
            String::from_utf8_lossy(input)
        );
        assert!(!err.to_string().is_empty());
    }
    let deep = "<a>".repeat(100);
    assert_eq!(
        parse_envelope(deep.as_bytes()).unwrap_err(),
        SoapError::TooLarge
    );
}

#[test]
fn r_tr69_2_version_detection_for_every_namespace() {
    for v in CwmpVersion::ALL {
        let env = Envelope::new(v, None, Rpc::GetRPCMethods);
        assert_eq!(parse_envelope(&write_envelope(&env)).unwrap().version, v);
        assert_eq!(CwmpVersion::from_namespace(v.namespace()), Some(v));
    }
    // No CWMP namespace at all: 1.0.
    let bare = b"<Envelope><Body><GetRPCMethods/></Body></Envelope>";
    assert_eq!(parse_envelope(bare).unwrap().version, CwmpVersion::V1_0);
}

#[test]
fn r_tr69_3_event_codes_and_file_types_parse_leniently() {
    for e in EventCode::KNOWN {
        assert_eq!(EventCode::parse(e.as_str()), e);
    }
    assert_eq!(EventCode::parse(" 1  boot "), EventCode::Boot);
    assert_eq!(
        EventCode::parse("8 DIAGNOSTICS COMPLETE"),
        EventCode::Other("8 DIAGNOSTICS COMPLETE".into())
    );
    assert_eq!(
        FileType::parse("3 Vendor Configuration File"),
        FileType::VendorConfig
    );
    assert_eq!(FileType::parse("1 Firmware Image"), FileType::Firmware);
    assert_eq!(FileType::parse("X 00000C Custom CA"), FileType::CustomCa);
    assert_eq!(
        FileType::parse("X 000E08 Ringtone"),
        FileType::Vendor {
            oui: "000E08".into(),
            name: "Ringtone".into()
        }
    );
}
