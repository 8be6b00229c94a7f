//! Notifications to systemd for the long-running commands (`serve` now,
//! `relay` and `bridge` later): readiness, status, stopping and the
//! watchdog, as `sd_notify(3)` describes them.
//!
//! Everything here is a no-op when `NOTIFY_SOCKET` is not set (the command
//! was not started by systemd as `Type=notify`), and nothing here can fail a
//! command: a notification that cannot be sent is logged as a warning and
//! the command goes on.

use std::future::Future;

use sd_notify::NotifyState;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// Tells systemd the command is ready (`READY=1`) with a one-line `STATUS=`
/// that `systemctl status` shows, e.g. "serving on 127.0.0.1:8080, NATS
/// nats://127.0.0.1:4222, stream REPOBUS".
///
/// Call it once, when the command really does its job: connected to NATS,
/// streams in place, listeners bound. systemd starts the units ordered after
/// this one only then.
pub fn ready(status: &str) {
    let status = one_line(status);
    send(
        &[NotifyState::Ready, NotifyState::Status(&status)],
        "READY=1",
    );
}

/// Tells systemd that shutdown has begun (`STOPPING=1`), so that it waits
/// for the command to finish (up to the unit's `TimeoutStopSec=`) instead
/// of taking the exit for a crash.
pub fn stopping() {
    send(
        &[
            NotifyState::Stopping,
            NotifyState::Status("shutting down: finishing work in progress"),
        ],
        "STOPPING=1",
    );
}

/// When systemd asks for watchdog pings (`WatchdogSec=` in the unit, seen
/// as `WATCHDOG_USEC` and `WATCHDOG_PID`), spawns a task on the current
/// Tokio runtime that sends `WATCHDOG=1` every half interval, but only
/// when `healthy()` says yes within that half interval. While the command
/// is unhealthy the pings stop, and systemd restarts the service once a
/// whole interval has gone by without one. Returns `None`, spawning
/// nothing, when no watchdog is asked for.
///
/// Call it after [`ready`]. Must be called from within a Tokio runtime.
pub fn spawn_watchdog<F, Fut>(mut healthy: F) -> Option<JoinHandle<()>>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    std::env::var_os("NOTIFY_SOCKET")?;
    let timeout = sd_notify::watchdog_enabled().filter(|t| !t.is_zero())?;
    let period = timeout / 2;
    tracing::info!(
        timeout = ?timeout,
        "systemd watchdog enabled: pinging every {period:?} while healthy"
    );
    Some(tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut was_healthy = true;
        loop {
            interval.tick().await;
            let is_healthy = tokio::time::timeout(period, healthy())
                .await
                .unwrap_or(false);
            if is_healthy {
                if !was_healthy {
                    tracing::info!("healthy again: systemd watchdog pings resume");
                }
                send(&[NotifyState::Watchdog], "WATCHDOG=1");
            } else if was_healthy {
                tracing::warn!(
                    timeout = ?timeout,
                    "unhealthy: withholding systemd watchdog pings; systemd restarts the service if this lasts the whole timeout"
                );
            }
            was_healthy = is_healthy;
        }
    }))
}

/// Sends `states`, logging a warning (naming `what`) when that fails.
fn send(states: &[NotifyState], what: &str) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(
            error = %e,
            socket = ?std::env::var_os("NOTIFY_SOCKET"),
            "cannot send {what} to systemd; going on"
        );
    }
}

/// `text` with line breaks replaced by spaces: a `STATUS=` value is one line.
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// Unit tests of the helpers; the notifications themselves are tested
/// against the real binary in `tests/systemd.rs`.
#[cfg(test)]
mod tests {
    use super::*;

    /// Line breaks in a status become spaces.
    #[test]
    fn status_is_one_line() {
        assert_eq!(one_line("a\nb\r\nc"), "a b  c");
        assert_eq!(
            one_line("serving on 127.0.0.1:8080"),
            "serving on 127.0.0.1:8080"
        );
    }
}
