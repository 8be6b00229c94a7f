//! What the benchmarks share: a server to run against and a private corner
//! of it.

use repobus::bus::BusConfig;
use repobus_local::{LocalNats, LocalNatsOptions};

/// The server a benchmark runs against: `url` if given, else a private
/// `nats-server -js` in a temporary directory (no fsync per write, so the
/// numbers measure repobus and not the disk).
pub struct BenchServer {
    /// The URL to connect to.
    pub url: String,
    _local: Option<LocalNats>,
    _dir: tempfile::TempDir,
}

pub async fn server(
    url: Option<&str>,
) -> Result<BenchServer, Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let (url, local) = match url {
        Some(url) => (url.to_owned(), None),
        None => {
            let mut options = LocalNatsOptions::new(dir.path());
            options.sync_always = false;
            let local = LocalNats::start(options).await?;
            (local.url(), Some(local))
        }
    };
    Ok(BenchServer {
        url,
        _local: local,
        _dir: dir,
    })
}

/// A configuration with its own prefix and streams (`<name><pid>`), so a
/// benchmark on a shared server touches nothing else; delete its streams
/// when done.
pub fn config(url: &str, name: &str) -> BusConfig {
    let tag = format!("{name}{}", std::process::id());
    BusConfig::new(url)
        .prefix(tag.clone())
        .stream(tag.to_uppercase())
}
