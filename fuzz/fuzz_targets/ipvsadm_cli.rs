//! ipvsadm front door: the argv grammar (popt scanning, the command x option
//! matrix, address/port/netmask/scheduler-flag parsing) and the `-R` restore
//! reader, run whole through `lvs_ipvsadm::run` against the real control
//! plane (`lvs_control::Control`, a fresh director per input), then listed
//! and saved so that whatever was accepted also goes through the
//! formatters. Must never panic.
//!
//! Input: the first line is one invocation, its arguments separated by NUL
//! bytes when it holds one, by blanks otherwise; the rest is standard input.
//! The whole input is also fed to `-R` as a restore file, and each of its
//! lines parsed as a restore line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lvs_control::{Control, run_ipvsadm};
use lvs_core::Time;
use lvs_ipvsadm::NoNames;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (head, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let args: Vec<&str> = if head.contains('\0') {
        head.split('\0').collect()
    } else {
        head.split([' ', '\t']).filter(|w| !w.is_empty()).collect()
    };
    let argv: Vec<String> = std::iter::once("ipvsadm")
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    let _ = lvs_ipvsadm::parse(&argv, &NoNames);
    for line in text.lines() {
        if let Some(argv) = lvs_ipvsadm::run::restore_argv("ipvsadm", line) {
            let _ = lvs_ipvsadm::parse(&argv, &NoNames);
        }
    }
    let now = Time(1_000_000_000);
    let mut control = Control::new(now, "fuzz");
    let _ = run_ipvsadm(&mut control, now, &args, rest);
    let _ = run_ipvsadm(&mut control, now, &["-R"], &text);
    let _ = run_ipvsadm(&mut control, now, &["-L", "-n", "--stats"], "");
    let _ = run_ipvsadm(&mut control, now, &["-S", "-n"], "");
    let _ = run_ipvsadm(&mut control, now, &["-L", "-n", "-c"], "");
});
