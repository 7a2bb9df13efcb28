//! Fuzz target `seccomp_profile`: the input goes through `liblxcrs::fuzzing::seccomp_profile` (its doc says
//! which parser and what is checked; the unit tests replay fuzz/seeds/seccomp_profile/ through it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| liblxcrs::fuzzing::seccomp_profile(data));
