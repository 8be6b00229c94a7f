//! `Pulp2Notification::decode(body)`: the body of `POST /v1/pulp2`, Pulp 2's
//! notifier document `{"event_type", "payload", "call_report"}` as a JSON
//! object (AMQP notifier) or as a JSON string holding one (HTTP notifier).
//!
//! When it decodes, every accessor of the event runs, the event survives a
//! round trip through its type ID, and the AMQP path (`Event::decode` on
//! `pulp.server.<event_type>`) reads the same body to the same event.

#![no_main]

use libfuzzer_sys::fuzz_target;
use repobus::events::wire::Pulp2Notification;
use repobus::Event;

fuzz_target!(|data: &[u8]| {
    let Ok(notification) = Pulp2Notification::decode(data) else {
        return;
    };
    let event = &notification.event;
    let _ = event.describe();
    let _ = event.to_string();
    let _ = event.severity();
    let _ = notification.task_id.as_deref().map(str::len);

    let type_id = event.event_type().as_str();
    let encoded = event.to_vec();
    let again = Event::decode(type_id, &encoded).unwrap_or_else(|e| {
        panic!(
            "the re-encoded payload does not decode as {type_id}: {e}\nbody: {}",
            String::from_utf8_lossy(&encoded)
        )
    });
    assert_eq!(&again, event, "round trip through {type_id}");

    // The AMQP notifier sends the same document on pulp.server.<event_type>.
    let name = event
        .event_type()
        .pulp2_name()
        .unwrap_or_else(|| panic!("a Pulp 2 notification decoded to {type_id}"));
    let amqp = Event::decode(&format!("pulp.server.{name}"), data)
        .unwrap_or_else(|e| panic!("the AMQP path rejects what the HTTP path accepts: {e}"));
    assert_eq!(&amqp, event, "the AMQP path reads another event");
});
