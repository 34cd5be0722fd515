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
