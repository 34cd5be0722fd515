//! One Redis connection manager per process: connects lazily, reconnects on
//! its own, and gives up on a call quickly so a Redis outage cannot stall requests.

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// # Errors
/// When the URL is not a Redis URL. Reachability is not checked here.
pub fn connect(url: &str) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(Duration::from_millis(500)))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_secs(2));
    ConnectionManager::new_lazy_with_config(client, config)
}

/// `PING`, for readiness checks.
///
/// # Errors
/// When Redis does not answer.
pub async fn ping(conn: &ConnectionManager) -> redis::RedisResult<()> {
    let mut conn = conn.clone();
    let _: String = redis::cmd("PING").query_async(&mut conn).await?;
    Ok(())
}

/// How often a subscription asks Redis whether it is still there.
const PING_EVERY: Duration = Duration::from_secs(15);

/// What a [`follow`] handler is told.
pub enum Followed {
    /// (Re)subscribed: messages sent meanwhile were missed.
    Subscribed,
    Message(redis::Msg),
}

/// Follows `channel` until `handle` breaks or `until` completes: reconnects with a growing pause
/// (250 ms to 5 s) when Redis goes away, and pings every 15 s, so that a
/// connection that died without a word (a half-open TCP link) is noticed and
/// replaced. Failures are logged once per 30 s, naming `what`.
pub async fn follow(
    client: redis::Client,
    channel: String,
    what: &'static str,
    until: impl Future<Output = ()>,
    mut handle: impl FnMut(Followed) -> std::ops::ControlFlow<()>,
) {
    use futures::StreamExt;
    let mut until = std::pin::pin!(until);
    let mut pause = Duration::from_millis(250);
    let failing = LogEvery::new(Duration::from_secs(30));
    loop {
        // Connecting has no deadline of its own in the client: a Redis that
        // does not answer must not hold the follower for minutes.
        let connect = tokio::time::timeout(Duration::from_secs(5), async {
            let (mut sink, stream) = client.get_async_pubsub().await?.split();
            sink.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>((sink, stream))
        });
        let subscribed = tokio::select! {
            s = connect => s.unwrap_or_else(|_| Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "no answer within 5 s",
            )))),
            () = &mut until => return,
        };
        match subscribed {
            Ok((mut sink, mut stream)) => {
                if handle(Followed::Subscribed).is_break() {
                    return;
                }
                let mut ping = tokio::time::interval(PING_EVERY);
                ping.tick().await;
                let lost = loop {
                    tokio::select! {
                        () = &mut until => return,
                        m = stream.next() => match m {
                            Some(m) => if handle(Followed::Message(m)).is_break() { return },
                            None => break "the connection closed".to_owned(),
                        },
                        _ = ping.tick() => {
                            let answer = tokio::select! {
                                a = tokio::time::timeout(
                                    Duration::from_secs(5),
                                    sink.ping::<redis::Value>(),
                                ) => a,
                                () = &mut until => return,
                            };
                            match answer {
                                // Healthy for a while: the next loss retries quickly.
                                Ok(Ok(_)) => pause = Duration::from_millis(250),
                                Ok(Err(e)) => break e.to_string(),
                                Err(_) => break "no answer to a ping within 5 s".to_owned(),
                            }
                        }
                    }
                };
                if failing.ready() {
                    tracing::warn!(reason = %lost, "{what}: Redis subscription lost; resubscribing (logged once per 30 s)");
                }
            }
            Err(e) if failing.ready() => {
                tracing::warn!(error = %e, "{what}: Redis unreachable; retrying (logged once per 30 s)");
            }
            Err(_) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = &mut until => return,
        }
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// Logs at most once per interval, so an outage does not flood the logs.
pub struct LogEvery {
    every: Duration,
    last: Mutex<Option<Instant>>,
}

impl LogEvery {
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last: Mutex::new(None),
        }
    }

    /// Whether to log now; counts as logged.
    pub fn ready(&self) -> bool {
        let mut last = self.last.lock().expect("log throttle lock");
        match *last {
            Some(t) if t.elapsed() < self.every => false,
            _ => {
                *last = Some(Instant::now());
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_every_lets_one_through_per_interval() {
        let l = LogEvery::new(Duration::from_secs(60));
        assert!(l.ready());
        assert!(!l.ready());
    }
}
