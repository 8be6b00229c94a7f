//! A small producer: runs a (pretend) repository sync under an operation
//! guard and reports a Copr build, on the NATS server `repobus serve` uses.
//!
//! ```text
//! cargo run --example producer                     # nats://127.0.0.1:4222
//! cargo run --example producer -- --nats-url nats://host:4222 --repo my-repo
//! ```
//!
//! The guard publishes `repo-sync-started` now and `repo-sync-finished` when
//! the work returns; had the work failed or panicked, the finished event
//! would say `error`. Watch the events arrive with `cargo run --example
//! consumer` or `repobus tail`.

use clap::Parser;
use repobus::bus::{Bus, BusConfig, SyncReport};
use repobus::events::{BuildChroot, CoprStatus};

#[derive(Parser)]
struct Args {
    /// NATS server URL.
    #[arg(
        long,
        env = "REPOBUS_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    nats_url: String,
    /// Repository to "sync".
    #[arg(long, default_value = "pulp-f17")]
    repo: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let bus = Bus::connect(BusConfig::new(&args.nats_url)).await?;
    let publisher = bus.publisher();

    // A sync under a guard: a started event always gets its finished event.
    let report = publisher
        .run_sync(
            args.repo.parse()?,
            "yum_importer".parse()?,
            "yum_importer".parse()?,
            || async {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                Ok::<_, std::io::Error>(SyncReport {
                    added_count: 12,
                    updated_count: 3,
                    ..SyncReport::default()
                })
            },
        )
        .await?;
    println!(
        "synced {}: {} added, {} updated",
        args.repo, report.added_count, report.updated_count
    );

    // A Copr build in one chroot: started, then ended.
    let build = BuildChroot::builder(945012, "@python", "python3.8", "fedora-rawhide-x86_64")
        .package("python-hypothesis", "4.23.8-1.fc31")
        .user("churchyard");
    let ack = publisher.publish(&build.clone().started().into()).await?;
    println!("published {} as {} #{}", ack.subject, ack.stream, ack.seq);
    let ack = publisher
        .publish(&build.ended(CoprStatus::Succeeded).into())
        .await?;
    println!("published {} as {} #{}", ack.subject, ack.stream, ack.seq);

    // Nothing accepted is dropped by exiting.
    publisher.close().await;
    Ok(())
}
