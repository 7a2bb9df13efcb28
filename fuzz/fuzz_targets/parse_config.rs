//! Fuzz the container config parser: it must never panic, and any text it accepts
//! must survive a save/reload cycle unchanged.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use lxcrs_config::legacy::update_legacy_config;
use lxcrs_config::Config;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = update_legacy_config(&text);
    let Ok(mut config) = Config::parse(&text, Path::new("fuzz")) else {
        return;
    };
    let saved = config.to_text();
    let reloaded = Config::parse(&saved, Path::new("fuzz")).expect("accepted text must reparse");
    assert_eq!(reloaded.to_text(), saved);
    for key in ["lxc.net", "lxc.net.0", "lxc.cap.drop", "lxc.mount.auto", "lxc.cgroup2", "lxc.hook"] {
        let _ = config.get_item(key);
    }
    let _ = config.set_item("lxc.uts.name", "fuzz");
    let _ = config.set_item("lxc.cap.drop", "sys_admin");
    let _ = config.clear_item("lxc.net.0");
    let _ = Config::parse(&config.to_text(), Path::new("fuzz")).expect("edited text must reparse");
});
