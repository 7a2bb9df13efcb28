//! Fuzz target `device_rules`: the input goes through `liblxcrs::fuzzing::device_rules` (its doc says
//! which parser and what is checked; the unit tests replay fuzz/seeds/device_rules/ through it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| liblxcrs::fuzzing::device_rules(data));
