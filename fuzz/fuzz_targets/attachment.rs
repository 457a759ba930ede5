#![no_main]
//! `gwx::formats::fuzz::attachment` under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gwx::formats::fuzz::attachment(data));
