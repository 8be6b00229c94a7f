//! The AsyncAPI document against the code it describes: every channel's
//! address, with its parameters filled by an example event's escaped IDs,
//! is the subject the publisher uses; every payload reference is the
//! committed schema file of that type; the committed `schemas/asyncapi.json`
//! is current (`repobus schemas` regenerates it).

use repobus::subject::{escape_token, Subjects};
use repobus::{asyncapi, schema, Event, EventType};

#[test]
fn every_channel_address_is_the_publishers_subject() {
    let doc = asyncapi::document();
    let subjects = Subjects::default();
    for event_type in EventType::ALL {
        let id = event_type.as_str();
        let channel = &doc["channels"][id];
        let params: Vec<&str> = channel["parameters"]
            .as_object()
            .unwrap_or_else(|| panic!("{id}: no parameters"))
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(params, event_type.subject_ids(), "{id}");
        for example in event_type.examples() {
            let event = Event::decode(id, example.to_string().as_bytes()).unwrap();
            let mut address = channel["address"].as_str().unwrap().to_owned();
            for (name, value) in event_type.subject_ids().iter().zip(event.subject_ids()) {
                address = address.replace(&format!("{{{name}}}"), &escape_token(value));
            }
            assert_eq!(address, subjects.for_event(&event), "{id}");
        }
        let message = &doc["components"]["messages"][id];
        let file = format!("./{}", schema::file_name(event_type));
        assert_eq!(message["payload"]["$ref"], file.as_str());
        assert_eq!(
            message["headers"]["$ref"],
            "#/components/schemas/CloudEventsHeaders"
        );
        assert!(doc["operations"][format!("publish-{id}")]["action"] == "send");
        assert!(doc["operations"][format!("receive-{id}")]["action"] == "receive");
    }
    let headers = &doc["components"]["schemas"]["CloudEventsHeaders"]["properties"];
    for name in [
        "ce-id",
        "ce-type",
        "ce-source",
        "ce-time",
        "ce-subject",
        "ce-specversion",
        "ce-dataschema",
        "ce-pulptaskid",
    ] {
        assert!(
            headers[name].is_object(),
            "{name} missing from the headers schema"
        );
    }
}

#[test]
fn committed_asyncapi_is_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    if let Err(e) = asyncapi::check(&dir) {
        panic!("{e}");
    }
}

#[test]
fn check_names_a_stale_document() {
    let dir = tempfile::tempdir().unwrap();
    asyncapi::write(dir.path()).unwrap();
    asyncapi::check(dir.path()).unwrap();
    std::fs::write(dir.path().join(asyncapi::FILE_NAME), "{}\n").unwrap();
    let message = asyncapi::check(dir.path()).unwrap_err().to_string();
    assert!(message.contains("asyncapi.json"), "{message}");
    assert!(message.contains("repobus schemas"), "{message}");
}
