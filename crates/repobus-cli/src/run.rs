//! `repobus run sync|publish REPO_ID ... -- COMMAND [ARGS...]`: runs a
//! command as a reserved operation (the library's
//! [`repobus::operations`]): waits for the reservations, publishes the
//! started event, turns the command's progress lines into progress
//! reports, and publishes the finished event the command's exit status
//! means. Exits with the command's exit status.

use std::io::{BufRead, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use repobus::bus::{PublishReport, SyncReport};
use repobus::operations::{Finish, OperationRequest, Operations, Resource, StopReason, WaitError};
use repobus::ResourceId;
use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;

use super::nats::NatsArgs;
use crate::error::CliError;

/// The environment variable holding the progress pipe's fd number.
pub const PROGRESS_FD_ENV: &str = "REPOBUS_PROGRESS_FD";
/// The environment variable holding the operation ID.
pub const OPERATION_ID_ENV: &str = "REPOBUS_OPERATION_ID";
/// The longest progress line read; longer lines are skipped.
const MAX_PROGRESS_LINE: usize = 1 << 20;
/// How much of stderr's tail becomes the traceback.
const STDERR_TAIL: usize = 8 * 1024;

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(subcommand)]
    kind: RunKind,
}

#[derive(Debug, Subcommand)]
enum RunKind {
    /// Run COMMAND as a sync of REPO_ID (reserving repo:REPO_ID exclusively).
    Sync {
        /// The repository.
        repo_id: ResourceId,
        /// The importer type.
        #[arg(long, default_value = "yum_importer")]
        importer_type_id: ResourceId,
        /// The importer (default: the importer type).
        #[arg(long)]
        importer_id: Option<ResourceId>,
        #[command(flatten)]
        common: Common,
    },
    /// Run COMMAND as a publish of REPO_ID by a distributor.
    Publish {
        /// The repository.
        repo_id: ResourceId,
        /// The distributor.
        #[arg(long)]
        distributor_id: ResourceId,
        /// The distributor type.
        #[arg(long, default_value = "yum_distributor")]
        distributor_type_id: ResourceId,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Args)]
struct Common {
    /// Also reserve this resource alone (repeatable). Resource names: ASCII
    /// letters, digits and _ . - : / = @ +, such as distributor:yum.
    #[arg(long, value_name = "RESOURCE")]
    exclusive: Vec<Resource>,
    /// Reserve this resource shared (repeatable); naming repo:REPO_ID makes
    /// the repository shared.
    #[arg(long, value_name = "RESOURCE")]
    shared: Vec<Resource>,
    /// The lease: a holder that stops renewing loses its reservation after it (whole seconds).
    #[arg(long, default_value = "30s", value_parser = parse_lease, allow_hyphen_values = true)]
    lease: Duration,
    /// Give up (exit 1, nothing run) after waiting this long for the reservations.
    #[arg(long, value_parser = parse_duration, allow_hyphen_values = true)]
    wait_timeout: Option<Duration>,
    /// At most one progress report per interval.
    #[arg(long, default_value = "2s", value_parser = parse_duration, allow_hyphen_values = true)]
    progress_interval: Duration,
    /// On cancel, how long after SIGTERM the command gets SIGKILL.
    #[arg(long, default_value = "10s", value_parser = parse_duration, allow_hyphen_values = true)]
    grace: Duration,
    /// The command and its arguments.
    #[arg(last = true, required = true, num_args = 1.., value_name = "COMMAND")]
    command: Vec<String>,
}

/// `30`, `30s`, `1500ms`, `2m`, `1h`: a non-negative duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err(format!("{text:?} is negative; a duration is 0 or more"));
    }
    let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (such as 30s, 1500ms, 2m, 1h)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

/// A polling interval: a duration of at least 100 ms.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = parse_duration(text)?;
    if interval < repobus_service::metrics::MIN_LAG_INTERVAL {
        return Err(format!("{text:?} is too short: at least 100ms"));
    }
    Ok(interval)
}

/// A lease: a whole number of seconds from 1 to [`repobus::operations::MAX_LEASE`].
pub fn parse_lease(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    // The library's rule, so `--lease` and the HTTP API refuse the same.
    repobus::operations::check_lease(d).map_err(|_| {
        format!(
            "{text:?}: a lease is a whole number of seconds from 1 s to {} s",
            repobus::operations::MAX_LEASE.as_secs()
        )
    })?;
    Ok(d)
}

/// Whether `program` can be run: a path to a file, or a name on PATH.
fn findable(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

fn usage(message: String) -> Result<ExitCode, CliError> {
    eprintln!("repobus run: {message}");
    Ok(ExitCode::from(2))
}

pub async fn run(args: RunArgs, nats: NatsArgs) -> Result<ExitCode, CliError> {
    let (request, common, sync) = match args.kind {
        RunKind::Sync {
            repo_id,
            importer_id,
            importer_type_id,
            common,
        } => {
            let importer_id = importer_id.unwrap_or_else(|| importer_type_id.clone());
            (
                OperationRequest::sync(repo_id, importer_type_id, importer_id),
                common,
                true,
            )
        }
        RunKind::Publish {
            repo_id,
            distributor_id,
            distributor_type_id,
            common,
        } => (
            OperationRequest::publish(repo_id, distributor_type_id, distributor_id),
            common,
            false,
        ),
    };
    // Bad input costs nothing: checked before anything is reserved.
    let program = common.command[0].clone();
    if program.is_empty() {
        return usage("the command is empty".into());
    }
    if !findable(&program) {
        return usage(format!("command not found: {program:?}"));
    }
    let mut request = request.lease(common.lease);
    for r in common.exclusive.iter().cloned() {
        request = request.exclusive(r);
    }
    for r in common.shared.iter().cloned() {
        request = request.shared(r);
    }
    let bus = nats.connect().await?;
    let operations = Operations::open(&bus)
        .await?
        .progress_interval(common.progress_interval);
    let waiting = operations.request(request).await?;
    let id = waiting.id().to_owned();
    eprintln!("repobus run: operation {id} waiting for its reservations");
    let mut wait = std::pin::pin!(waiting.wait(common.wait_timeout));
    let mut interrupted = false;
    let outcome = loop {
        tokio::select! {
            r = &mut wait => break r,
            _ = terminated(), if !interrupted => {
                // Cancel our own claim: it is released and never starts.
                interrupted = true;
                if let Err(e) = operations.cancel(&id).await {
                    eprintln!("repobus run: cannot withdraw the claim ({e}); it lapses with its lease");
                    return Ok(ExitCode::from(130));
                }
            }
        }
    };
    let running = match outcome {
        Ok(running) => running,
        Err(e @ (WaitError::Canceled(_) | WaitError::Timeout { .. } | WaitError::LeaseLost(_))) => {
            eprintln!("repobus run: {e}; the command was not run");
            bus.publisher().close().await;
            return Ok(if interrupted {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            });
        }
        Err(WaitError::Operations(e)) => return Err(e.into()),
    };

    // The progress pipe: the command writes to its end, fd number in the env.
    let (reader, writer) = progress_pipe().map_err(CliError::io("creating the progress pipe"))?;
    let writer_fd = writer.as_raw_fd();
    // SAFETY: fcntl on a descriptor this process owns; it only clears
    // FD_CLOEXEC so that the command inherits the write end.
    if unsafe { libc::fcntl(writer_fd, libc::F_SETFD, 0) } == -1 {
        return Err(CliError::io("sharing the progress pipe")(
            std::io::Error::last_os_error(),
        ));
    }
    let mut command = tokio::process::Command::new(&program);
    command
        .args(&common.command[1..])
        .env(PROGRESS_FD_ENV, writer_fd.to_string())
        .env(OPERATION_ID_ENV, &id)
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    let spawned = command.spawn();
    drop(writer);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let message = format!("cannot run {program:?}: {e}");
            eprintln!("repobus run: {message}");
            running
                .finish(Finish::Error {
                    error_message: message,
                    exception: Some("SpawnError".into()),
                    traceback: None,
                })
                .await?;
            bus.publisher().close().await;
            return Ok(ExitCode::from(127));
        }
    };
    let pgid = child.id().map(|p| p as i32);

    // Progress lines, read on a thread of their own.
    let (tx, mut progress) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let progress_thread = std::thread::spawn(move || read_progress(reader, tx));
    // stderr: passed through, its tail kept.
    let mut stderr = child.stderr.take();
    let stderr_task = tokio::spawn(async move {
        let mut tail: Vec<u8> = Vec::new();
        let Some(stderr) = stderr.as_mut() else {
            return tail;
        };
        let mut buf = vec![0u8; 8192];
        loop {
            match stderr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut out = std::io::stderr().lock();
                    let _ = out.write_all(&buf[..n]);
                    let _ = out.flush();
                    tail.extend_from_slice(&buf[..n]);
                    if tail.len() > 2 * STDERR_TAIL {
                        tail.drain(..tail.len() - STDERR_TAIL);
                    }
                }
            }
        }
        tail
    });

    let token = running.cancellation();
    let mut final_report: Option<Value> = None;
    let mut stop: Option<StopReason> = None;
    let mut kill_at: Option<tokio::time::Instant> = None;
    let mut term = std::pin::pin!(terminated());
    let status = loop {
        let kill_sleep = async {
            match kill_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = child.wait() => break status,
            Some(line) = progress.recv() => {
                match line {
                    Value::Object(mut map) if map.contains_key("final") => {
                        final_report = map.remove("final");
                    }
                    report => running.progress(report),
                }
            }
            _ = token.cancelled(), if stop.is_none() => {
                stop = Some(running.stop_reason().unwrap_or(StopReason::Canceled));
                eprintln!("repobus run: {} ; sending SIGTERM to the command", match stop {
                    Some(StopReason::LeaseLost) => "the reservation's lease was lost",
                    _ => "operation canceled",
                });
                signal(pgid, libc::SIGTERM);
                kill_at = Some(tokio::time::Instant::now() + common.grace);
            }
            _ = &mut term, if stop.is_none() => {
                stop = Some(StopReason::Canceled);
                signal(pgid, libc::SIGTERM);
                kill_at = Some(tokio::time::Instant::now() + common.grace);
            }
            _ = kill_sleep => {
                eprintln!("repobus run: the command outlived its grace period; sending SIGKILL");
                signal(pgid, libc::SIGKILL);
                kill_at = None;
            }
        }
    };
    let status = status.map_err(CliError::io("waiting for the command"))?;
    // The rest of the progress lines (the command's end of the pipe is
    // closed unless it left a child holding it).
    let drain_until = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(Some(line)) = tokio::time::timeout_at(drain_until, progress.recv()).await {
        match line {
            Value::Object(mut map) if map.contains_key("final") => {
                final_report = map.remove("final")
            }
            report => running.progress(report),
        }
    }
    drop(progress_thread);
    let tail = tokio::time::timeout(Duration::from_secs(2), stderr_task)
        .await
        .ok()
        .and_then(|r| r.ok())
        .unwrap_or_default();
    let tail =
        String::from_utf8_lossy(&tail[tail.len().saturating_sub(STDERR_TAIL)..]).into_owned();

    let finish = if stop.is_some() || status.signal().is_some() {
        Finish::Canceled
    } else if status.success() {
        success(sync, final_report)
    } else {
        let last = tail
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                format!(
                    "{program} exited with status {}",
                    status.code().unwrap_or(1)
                )
            });
        Finish::Failed {
            error_message: last,
            traceback: (!tail.is_empty()).then_some(tail),
        }
    };
    let ack = running.finish(finish).await?;
    if ack.duplicate {
        eprintln!("repobus run: another process already published this operation's finished event (its lease lapsed)");
    }
    bus.publisher().close().await;
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        _ => 1,
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

fn success(sync: bool, report: Option<Value>) -> Finish {
    let report = match report {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let count = |k: &str| report.get(k).and_then(Value::as_u64).unwrap_or(0);
    let part = |k: &str| {
        report
            .get(k)
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()))
    };
    if sync {
        Finish::Sync(SyncReport {
            added_count: count("added_count"),
            updated_count: count("updated_count"),
            removed_count: count("removed_count"),
            summary: part("summary"),
            details: part("details"),
        })
    } else {
        Finish::Publish(PublishReport {
            summary: part("summary"),
            details: part("details"),
        })
    }
}

fn signal(pgid: Option<i32>, signal: i32) {
    if let Some(pgid) = pgid {
        // SAFETY: kill(2) on the command's own process group.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// SIGTERM or SIGINT to repobus itself.
async fn terminated() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Reads one JSON object a line; anything else is reported on stderr and
/// skipped.
/// A pipe, both ends close-on-exec: (read end, write end).
fn progress_pipe() -> std::io::Result<(std::fs::File, std::os::fd::OwnedFd)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two new descriptors into `fds`, which this
    // function then owns.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by no one else.
    let (reader, writer) = unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    Ok((reader, writer))
}

fn read_progress(reader: std::fs::File, tx: tokio::sync::mpsc::UnboundedSender<Value>) {
    let mut reader = std::io::BufReader::new(reader);
    let mut line = Vec::new();
    let mut complaints = 0;
    loop {
        line.clear();
        match reader
            .by_ref()
            .take(MAX_PROGRESS_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.len() > MAX_PROGRESS_LINE && !line.ends_with(b"\n") {
            // Skip the rest of the long line.
            let mut rest = Vec::new();
            let _ = reader.read_until(b'\n', &mut rest);
            complain(
                &mut complaints,
                "a progress line longer than 1 MiB was skipped",
            );
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(value @ Value::Object(_)) => {
                if tx.send(value).is_err() {
                    return;
                }
            }
            Ok(_) => complain(
                &mut complaints,
                "a progress line is not a JSON object; skipped",
            ),
            Err(e) => complain(
                &mut complaints,
                &format!("a progress line is not JSON ({e}); skipped"),
            ),
        }
    }
}

fn complain(count: &mut u32, message: &str) {
    *count += 1;
    if *count <= 10 {
        eprintln!("repobus run: {message}");
    }
}
