//! amqp-out
