//! One client connection: dial the upstream, run both links, tear down as they end.

use std::net::SocketAddr;
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use tokio::net::TcpStream;

use crate::link::{Link, LinkEnd};
use crate::stream::Direction;
use crate::timer::Timer;
use crate::toxic_collection::ToxicCollection;

/// Everything a connection needs, taken from its proxy when the client was accepted.
pub(crate) struct Connection {
    pub(crate) client: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) proxy: Arc<str>,
    pub(crate) upstream: Arc<str>,
    pub(crate) toxics: Arc<ToxicCollection>,
    pub(crate) timer: Timer,
    /// Seeds this connection's randomness (toxicity rolls, jitter, slicing).
    pub(crate) seed: u64,
}

impl Connection {
    /// Proxies until both directions have ended, or one ends the whole connection.
    pub(crate) async fn run(self) {
        let Connection {
            mut client,
            peer,
            proxy,
            upstream,
            toxics,
            timer,
            seed,
        } = self;
        let mut server = match TcpStream::connect(&*upstream).await {
            Ok(server) => server,
            Err(err) => {
                tracing::warn!(%proxy, %peer, %upstream, %err, "cannot connect to upstream");
                return;
            }
        };
        for stream in [&client, &server] {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(%proxy, %err, "cannot set TCP_NODELAY");
            }
        }
        tracing::debug!(%proxy, %peer, "connection open");

        let mut rng = SmallRng::seed_from_u64(seed);
        let outcome = {
            let (client_read, client_write) = client.split();
            let (server_read, server_write) = server.split();
            let up = Link::new(
                Direction::Upstream,
                client_read,
                server_write,
                toxics.subscribe(Direction::Upstream),
                &timer,
                SmallRng::seed_from_u64(rng.next_u64()),
            )
            .run();
            let down = Link::new(
                Direction::Downstream,
                server_read,
                client_write,
                toxics.subscribe(Direction::Downstream),
                &timer,
                SmallRng::seed_from_u64(rng.next_u64()),
            )
            .run();
            both(up, down).await
        };

        match &outcome {
            LinkEnd::Reset => {
                for stream in [&client, &server] {
                    if let Err(err) = stream.set_zero_linger() {
                        tracing::debug!(%proxy, %err, "cannot set SO_LINGER 0");
                    }
                }
            }
            LinkEnd::Failed(err) => tracing::debug!(%proxy, %peer, %err, "connection failed"),
            LinkEnd::Finished | LinkEnd::Close => {}
        }
        tracing::debug!(%proxy, %peer, outcome = ?outcome, "connection closed");
        // Dropping both sockets closes them (with RST after a reset).
    }
}

/// Waits for both links when they finish normally; any other end stops the other link at once.
async fn both(up: impl Future<Output = LinkEnd>, down: impl Future<Output = LinkEnd>) -> LinkEnd {
    tokio::pin!(up, down);
    tokio::select! {
        end = &mut up => match end {
            LinkEnd::Finished => down.await,
            other => other,
        },
        end = &mut down => match end {
            LinkEnd::Finished => up.await,
            other => other,
        },
    }
}
