//! A TCP proxy a test puts between the server and a service it depends on
//! (Redis, PostgreSQL), to cut the service off mid-run and restore it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// While cut, open connections are dropped and new ones are closed at once,
/// as when the service's host goes away; restored, it forwards again.
pub struct Proxy {
    addr: String,
    up: Arc<AtomicBool>,
    links: Arc<tokio::sync::Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

/// A URL such as `postgres://user@host:port/db` in three: what comes before
/// `host:port`, `host:port`, and what comes after.
fn parts(url: &str) -> (&str, &str, &str) {
    let scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[scheme..]
        .find(['/', '?'])
        .map_or(url.len(), |i| scheme + i);
    let start = url[scheme..end]
        .rfind('@')
        .map_or(scheme, |i| scheme + i + 1);
    (&url[..start], &url[start..end], &url[end..])
}

impl Proxy {
    /// A proxy to the host and port of `url`.
    pub async fn to(url: &str) -> Self {
        let target = parts(url).1.to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let up = Arc::new(AtomicBool::new(true));
        let links = Arc::new(tokio::sync::Mutex::new(JoinSet::new()));
        let accept = {
            let (up, links) = (up.clone(), links.clone());
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        continue; // dropped: the client sees the connection close
                    }
                    let Ok(mut server) = TcpStream::connect(&target).await else {
                        continue;
                    };
                    let mut links = links.lock().await;
                    // A cut that came while connecting has aborted the links
                    // already: this one must not outlive it.
                    if up.load(Ordering::SeqCst) {
                        links.spawn(async move {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        });
                    }
                }
            })
        };
        Self {
            addr,
            up,
            links,
            accept,
        }
    }

    /// `url` with its host and port replaced by the proxy's (the user, the
    /// database and the query stay).
    pub fn route(&self, url: &str) -> String {
        let (before, _, after) = parts(url);
        format!("{before}{}{after}", self.addr)
    }

    /// Drops every open connection and refuses new ones until restored.
    pub async fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.links.lock().await.abort_all();
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // The links go with the accept loop, which holds the last handle.
        self.accept.abort();
    }
}

#[test]
fn a_url_is_split_around_its_host_and_port() {
    assert_eq!(
        parts("postgres://postgres@127.0.0.1:5432/tenantry_t_1?x=y"),
        (
            "postgres://postgres@",
            "127.0.0.1:5432",
            "/tenantry_t_1?x=y"
        )
    );
    assert_eq!(
        parts("redis://127.0.0.1:6379"),
        ("redis://", "127.0.0.1:6379", "")
    );
}
