#![no_main]
//! `gwx::formats::fuzz::multipart` under libFuzzer.
libfuzzer_sys::fuzz_target!(|data: &[u8]| gwx::formats::fuzz::multipart(data));
