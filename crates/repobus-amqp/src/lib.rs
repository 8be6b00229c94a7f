//! # repobus-amqp
//!
//! A bridge between repobus (typed events on NATS JetStream) and
//! fedora-messaging on an AMQP 0-9-1 broker (RabbitMQ), both ways, in
//! fedora-messaging's own wire format ([`fedora`]):
//!
//! - [`inbound::Inbound`] (`repobus bridge amqp-in`) consumes Copr's (and
//!   any known) messages from a queue, decodes them with the event model's
//!   wire-form decoder and stores them in JetStream with `ce-id` = the AMQP
//!   `message_id`, acknowledging AMQP only after the JetStream ack;
//! - [`outbound::Outbound`] (`repobus bridge amqp-out`) reads a durable
//!   JetStream consumer and publishes each event as fedora-messaging's
//!   publisher would, acknowledging NATS only after the broker's publisher
//!   confirm.
//!
//! Both reconnect with backoff and count what an operator alerts on through
//! the `metrics` facade (`repobus_amqp_in_*`, `repobus_amqp_out_*`).

#![warn(missing_docs)]

pub mod connection;
pub mod fedora;
pub mod inbound;
pub mod outbound;

pub use connection::{AmqpConfig, BridgeError};
