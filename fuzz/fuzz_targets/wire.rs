//! Fuzz target `wire`: the input goes through `liblxcrs::fuzzing::wire` (its doc says
//! which parser and what is checked; the unit tests replay fuzz/seeds/wire/ through it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| liblxcrs::fuzzing::wire(data));
