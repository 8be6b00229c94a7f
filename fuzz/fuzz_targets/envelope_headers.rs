//! `Envelope::from_headers`: reading the CloudEvents envelope of a received
//! message from its NATS headers.
//!
//! Input: the first byte picks the fallback type (from the subject) or none;
//! then one header per line. A line's first byte picks the name from `NAMES`
//! (below 0xE0) or says the name is written in the line up to the first `:`;
//! the rest of the line is the value. Names and values go through the
//! fallible constructors (`HeaderName::from_str`, `HeaderValue::from_str`),
//! so only repobus is fuzzed, not async-nats's panicking conveniences.
//!
//! An envelope that reads must write headers (`to_headers`) that read back,
//! and writing and reading again changes nothing more.

#![no_main]

use std::str::FromStr;

use async_nats::header::{HeaderName, HeaderValue};
use async_nats::HeaderMap;
use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use repobus::envelope::Envelope;
use repobus::EventType;

const NAMES: [&str; 11] = [
    "ce-specversion",
    "ce-type",
    "ce-time",
    "ce-id",
    "ce-source",
    "ce-subject",
    "ce-dataschema",
    "ce-pulptaskid",
    "Nats-Msg-Id",
    "ce-datacontenttype",
    "Content-Type",
];

/// First bytes of a line from this value on write the name in the line.
const RAW_NAME: u8 = 0xE0;

fn read(headers: Option<&HeaderMap>, fallback: Option<EventType>) -> Option<Envelope> {
    let stream_time = DateTime::<Utc>::UNIX_EPOCH;
    Envelope::from_headers(headers, fallback, || "REPOBUS:1".to_owned(), stream_time).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let fallback = EventType::ALL
        .get(usize::from(first) % (EventType::ALL.len() + 1))
        .copied();
    let mut headers = HeaderMap::new();
    for line in rest.split(|&b| b == b'\n') {
        let Some((&selector, text)) = line.split_first() else {
            continue;
        };
        let Ok(text) = std::str::from_utf8(text) else {
            continue;
        };
        let (name, value) = if selector < RAW_NAME {
            (NAMES[usize::from(selector) % NAMES.len()], text)
        } else {
            match text.split_once(':') {
                Some((name, value)) => (name, value),
                None => (text, ""),
            }
        };
        let (Ok(name), Ok(value)) = (HeaderName::from_str(name), HeaderValue::from_str(value))
        else {
            continue;
        };
        headers.append(name, value);
    }

    let _ = read(None, fallback);
    let Some(envelope) = read(Some(&headers), fallback) else {
        return;
    };
    let _ = envelope.time_rfc3339();

    // What repobus writes, repobus reads.
    let written = envelope.to_headers();
    let again = read(Some(&written), None).unwrap_or_else(|| {
        panic!("{envelope:?} writes headers that do not read back: {written:?}")
    });
    assert_eq!(again.event_type, envelope.event_type);
    let third = read(Some(&again.to_headers()), None)
        .unwrap_or_else(|| panic!("{again:?} writes headers that do not read back"));
    assert_eq!(third, again, "writing and reading is not stable");
});
