//! A small consumer: a durable subscription that prints each event's
//! summary and acknowledges it, so a restarted consumer resumes where it
//! stopped.
//!
//! ```text
//! cargo run --example consumer                              # every event
//! cargo run --example consumer -- --repo pulp-f17           # one repository
//! cargo run --example consumer -- --owner @python --name py # one Copr owner
//! ```

use clap::Parser;
use repobus::bus::{Bus, BusConfig, ConsumerOptions, Deliver};
use repobus::subject::SubjectFilter;

#[derive(Parser)]
struct Args {
    /// NATS server URL.
    #[arg(
        long,
        env = "REPOBUS_NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    nats_url: String,
    /// Durable consumer name.
    #[arg(long, default_value = "example-consumer")]
    name: String,
    /// Only events of this repository.
    #[arg(long)]
    repo: Option<String>,
    /// Only builds of this Copr owner (`user` or `@group`).
    #[arg(long, conflicts_with = "repo")]
    owner: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let bus = Bus::connect(BusConfig::new(&args.nats_url)).await?;
    let filter = match (&args.repo, &args.owner) {
        (Some(repo), _) => SubjectFilter::repo(repo),
        (_, Some(owner)) => SubjectFilter::owner(owner),
        _ => SubjectFilter::All,
    };
    let mut subscription = bus
        .subscriber()
        .subscribe(ConsumerOptions {
            durable: Some(args.name.clone()),
            filter_subjects: vec![bus.subjects().filter(&filter)],
            deliver: Deliver::All,
            ..ConsumerOptions::default()
        })
        .await?;
    println!(
        "waiting for events on {} (Ctrl-C to stop)",
        bus.subjects().filter(&filter)
    );
    while let Some(delivery) = subscription.next().await {
        let delivery = delivery?;
        println!(
            "#{} {} [{}] {}",
            delivery.stream_sequence,
            delivery.envelope.time_rfc3339(),
            delivery.event.status(),
            delivery.event
        );
        delivery.ack().await?;
    }
    Ok(())
}
