//! Fuzz target `parse_config`: the container config parser, through
//! `liblxcrs::fuzzing::config` (never panics; accepted text survives save/reload and edits).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| liblxcrs::fuzzing::config(data));
