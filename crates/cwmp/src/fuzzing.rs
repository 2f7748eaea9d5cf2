//! Entry points shared by the `soap_parse` fuzz target and the corpus
//! replay test (hidden from the docs: not a stable API).

use crate::{parse_envelope, write_envelope, AcsConfig, AcsSession};

/// bytes → [`parse_envelope`]; when it parses, the written form must parse
/// back to the same envelope. The bytes are also fed to a fresh ACS
/// session, which must not panic whatever they are.
pub fn soap_parse(data: &[u8]) {
    // The written form can hold several times the elements of a terse
    // input (`<P/>` becomes a full ParameterValueStruct), so for huge
    // inputs it may exceed the parser's element limit by design.
    let round_trip = data.len() <= 64 * 1024;
    if let (Ok(env), true) = (parse_envelope(data), round_trip) {
        let written = write_envelope(&env);
        let again = parse_envelope(&written).unwrap_or_else(|e| {
            panic!(
                "written envelope does not parse: {e}\n{}",
                String::from_utf8_lossy(&written)
            )
        });
        assert_eq!(again, env, "write → parse changed the envelope");
    }
    let mut acs = AcsSession::new(AcsConfig::default());
    let reply = acs.handle_request(data);
    assert!(matches!(reply.status, 200 | 204 | 400 | 500));
}
