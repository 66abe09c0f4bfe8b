//! A TCP proxy of the tests' own between Switchboard and PostgreSQL, to cut, stall and restore
//! the database without touching the shared server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const PASS: u8 = 0;
const CUT: u8 = 1;
const STALL: u8 = 2;

pub struct Proxy {
    /// `127.0.0.1:PORT`, where clients connect.
    pub addr: String,
    mode: Arc<AtomicU8>,
    connections: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
    accepting: JoinHandle<()>,
}

impl Proxy {
    /// Forwards every connection to `upstream` (`host:port`) until told otherwise.
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let mode = Arc::new(AtomicU8::new(PASS));
        let connections: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (m, c, upstream) = (mode.clone(), connections.clone(), upstream.to_string());
        let accepting = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let task = match m.load(Ordering::SeqCst) {
                    // Refused: the connection is closed at once.
                    CUT => continue,
                    // Accepted, and never answered.
                    STALL => tokio::spawn(async move {
                        let _held = inbound;
                        std::future::pending::<()>().await
                    }),
                    _ => {
                        let upstream = upstream.clone();
                        tokio::spawn(async move {
                            if let Ok(mut out) = TcpStream::connect(&upstream).await {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                            }
                        })
                    }
                };
                c.lock().unwrap().push(task);
            }
        });
        Proxy {
            addr,
            mode,
            connections,
            accepting,
        }
    }

    fn drop_connections(&self) {
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    /// Every connection closed, new ones refused.
    pub fn cut(&self) {
        self.mode.store(CUT, Ordering::SeqCst);
        self.drop_connections();
    }

    /// Every connection closed; new ones accepted and never answered.
    pub fn stall(&self) {
        self.mode.store(STALL, Ordering::SeqCst);
        self.drop_connections();
    }

    /// Forwarding again.
    pub fn restore(&self) {
        self.mode.store(PASS, Ordering::SeqCst);
        self.drop_connections();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accepting.abort();
        self.drop_connections();
    }
}
