#![no_main]
//! `gwx::formats::fuzz::doctype` under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gwx::formats::fuzz::doctype(data));
