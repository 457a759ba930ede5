#![no_main]
//! `gwx::formats::fuzz::envelope` under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gwx::formats::fuzz::envelope(data));
