//! Fuzzes the profile rule parser, selection, lint and macro expansion
//! (R-RULE, R-MACRO) through the entry point the corpus replay test also uses.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    phoneprov_rule::fuzzing::rule_parse(data);
});
