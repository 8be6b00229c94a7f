//! Connections: a write timeout on every accepted socket.
//!
//! hyper has no write timeout of its own. A client that stops reading (a
//! dashboard tab frozen in the background, a proxy that stalls) leaves its
//! connection's writes pending forever: the live stream cuts such a client
//! off after [`crate::STALL_TIMEOUT`] and drops its consumer, but the
//! socket, and up to the kernel's send buffer (megabytes), stayed until the
//! client went away. Here a write that makes no progress for
//! [`crate::ServiceConfig::write_timeout`] fails, and hyper closes the
//! connection. A client that reads, however slowly, never meets it: the
//! clock restarts with every byte written.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;

/// The default [`crate::ServiceConfig::write_timeout`]: 30 s.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// A [`TcpListener`] whose connections carry a write timeout.
pub(crate) struct TimeoutListener {
    pub(crate) inner: TcpListener,
    pub(crate) write_timeout: Duration,
}

impl axum::serve::Listener for TimeoutListener {
    type Io = WriteTimeout<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // TcpListener's own accept retries on errors (EMFILE and the like).
        let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        (WriteTimeout::new(io, self.write_timeout), addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// `inner` with a timeout on writes (and flushes) that make no progress.
pub(crate) struct WriteTimeout<S> {
    inner: S,
    timeout: Duration,
    /// Armed when a write first returns `Pending`, disarmed by progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteTimeout<S> {
    pub(crate) fn new(inner: S, timeout: Duration) -> Self {
        WriteTimeout {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// `polled` as it is, or a `TimedOut` error once writes have been
    /// pending for the whole timeout (never with a zero timeout).
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() || self.timeout.is_zero() {
            self.stalled = None;
            return polled;
        }
        let timeout = self.timeout;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.stalled = None;
                ::metrics::counter!(crate::metrics::HTTP_WRITE_TIMEOUTS).increment(1);
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the client read nothing for {} s: connection closed",
                        timeout.as_secs_f64()
                    ),
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_write_that_makes_no_progress_times_out_and_one_that_does_not_never() {
        // A pipe whose reader reads nothing: writes stall once it is full.
        let (client, server) = tokio::io::duplex(1024);
        let mut stalled = WriteTimeout::new(server, Duration::from_millis(200));
        let started = std::time::Instant::now();
        let error = loop {
            if let Err(e) = stalled.write_all(&[b'x'; 512]).await {
                break e;
            }
        };
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(
            error.to_string().contains("read nothing for 0.2 s"),
            "{error}"
        );
        assert!(started.elapsed() >= Duration::from_millis(200));
        drop(client);

        // A slow reader (a byte every 10 ms, longer in all than the
        // timeout) keeps the clock from ever running out.
        let (mut client, server) = tokio::io::duplex(16);
        let mut slow = WriteTimeout::new(server, Duration::from_millis(200));
        let reading = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut byte = [0u8; 1];
            let mut got = 0;
            while got < 64 {
                tokio::time::sleep(Duration::from_millis(10)).await;
                got += client.read(&mut byte).await.unwrap_or(0);
            }
            got
        });
        slow.write_all(&[b'y'; 64]).await.unwrap();
        assert_eq!(reading.await.unwrap(), 64);

        // Zero: no timeout; a write to a reader that reads nothing waits.
        let (_client, server) = tokio::io::duplex(16);
        let mut patient = WriteTimeout::new(server, Duration::ZERO);
        let waited =
            tokio::time::timeout(Duration::from_millis(300), patient.write_all(&[b'z'; 64])).await;
        assert!(waited.is_err(), "the write still waits: {waited:?}");
    }
}
