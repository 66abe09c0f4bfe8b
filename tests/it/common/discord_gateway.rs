//! A fake Discord gateway on loopback for real serenity: every connection gets HELLO (a
//! 1 s heartbeat); IDENTIFY is answered READY, RESUME replays the events the client missed
//! (or, with `replay_all`, every event of the session, as a second delivery would) then
//! RESUMED; heartbeats are ACKed; RECONNECT and INVALID_SESSION are sent when asked. Frames are
//! Discord's recorded ones; every frame the client sends is recorded.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// One of Discord's recorded payloads.
fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/payloads/discord/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub enum Control {
    /// Send what was dispatched and not yet sent.
    Dispatch,
    /// Ask the client to reconnect (op 7).
    Reconnect,
    /// Say the session is no longer valid (op 9).
    Invalidate,
}

/// The fake gateway: every connection gets HELLO; IDENTIFY is answered READY, RESUME replays
/// the events the client missed (or, with `replay_all`, every event of the session, as a
/// second delivery would) then RESUMED; heartbeats are ACKed.
#[derive(Clone)]
pub struct FakeGateway {
    pub url: String,
    application: String,
    bot_user: String,
    /// Events dispatched, in order; event i has sequence number i + 2 (READY is 1).
    log: Arc<Mutex<Vec<Value>>>,
    /// Every frame the client sent.
    received: Arc<Mutex<Vec<Value>>>,
    control: tokio::sync::broadcast::Sender<Arc<Control>>,
    pub replay_all: Arc<AtomicBool>,
    changed: Arc<tokio::sync::Notify>,
}

impl FakeGateway {
    /// A gateway for this application, whose bot user is `bot_user`.
    pub async fn start(application: u64, bot_user: &str) -> FakeGateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let gw = FakeGateway {
            url: url.clone(),
            application: application.to_string(),
            bot_user: bot_user.to_string(),
            log: Default::default(),
            received: Default::default(),
            control: tokio::sync::broadcast::channel(16).0,
            replay_all: Default::default(),
            changed: Default::default(),
        };
        let g = gw.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let g = g.clone();
                tokio::spawn(async move { g.serve(tcp).await });
            }
        });
        gw
    }

    fn frame(op: u64, s: Option<usize>, t: Option<&str>, d: Value) -> Message {
        Message::text(json!({"op": op, "s": s, "t": t, "d": d}).to_string())
    }

    async fn serve(&self, tcp: tokio::net::TcpStream) {
        let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
            return;
        };
        let mut control = self.control.subscribe();
        let mut hello = fixture("gateway-op10-hello.json");
        hello["d"]["heartbeat_interval"] = json!(1000);
        ws.send(Message::text(hello.to_string())).await.unwrap();
        let mut sent = 0;
        loop {
            tokio::select! {
                frame = ws.next() => {
                    let Some(Ok(Message::Text(t))) = frame else { return };
                    let v: Value = serde_json::from_str(&t).unwrap();
                    self.received.lock().unwrap().push(v.clone());
                    self.changed.notify_waiters();
                    match v["op"].as_u64() {
                        Some(1) => {
                            let ack = fixture("gateway-op11-heartbeat-ack.json");
                            ws.send(Message::text(ack.to_string())).await.unwrap();
                        }
                        Some(2) => {
                            let mut ready = fixture("gateway-dispatch-READY.json");
                            ready["d"]["v"] = json!(10);
                            ready["d"]["user"]["id"] = json!(self.bot_user);
                            ready["d"]["resume_gateway_url"] = json!(self.url);
                            ready["d"]["guilds"] = json!([]);
                            ready["d"]["application"] = json!({"id": self.application, "flags": 0});
                            ws.send(Message::text(ready.to_string())).await.unwrap();
                            // A new session: what was dispatched before it is not its to get.
                            sent = self.log.lock().unwrap().len();
                        }
                        Some(6) => {
                            let from = if self.replay_all.load(SeqCst) {
                                0
                            } else {
                                v["d"]["seq"].as_u64().unwrap_or(1).saturating_sub(1) as usize
                            };
                            let log = self.log.lock().unwrap().clone();
                            for (i, e) in log.iter().enumerate().skip(from) {
                                ws.send(Self::frame(0, Some(i + 2), e["t"].as_str(), e["d"].clone())).await.unwrap();
                            }
                            sent = log.len();
                            ws.send(Self::frame(0, Some(sent + 1), Some("RESUMED"), json!({}))).await.unwrap();
                        }
                        _ => {}
                    }
                }
                c = control.recv() => {
                    let c = match c {
                        Ok(c) => c,
                        // Dispatches missed while busy: what is unsent goes out all the same.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            Arc::new(Control::Dispatch)
                        }
                        Err(_) => return,
                    };
                    match *c {
                        Control::Dispatch => {
                            let unsent: Vec<Value> = self.log.lock().unwrap()[sent..].to_vec();
                            for e in unsent {
                                sent += 1;
                                ws.send(Self::frame(0, Some(sent + 1), e["t"].as_str(), e["d"].clone())).await.unwrap();
                            }
                        }
                        Control::Reconnect => {
                            let r = fixture("gateway-op7-reconnect.json");
                            ws.send(Message::text(r.to_string())).await.unwrap();
                        }
                        Control::Invalidate => {
                            let r = fixture("gateway-op9-invalid-session.json");
                            ws.send(Message::text(r.to_string())).await.unwrap();
                        }
                    }
                }
            }
        }
    }

    pub fn dispatch(&self, t: &str, d: Value) {
        self.log.lock().unwrap().push(json!({"t": t, "d": d}));
        let _ = self.control.send(Arc::new(Control::Dispatch));
    }

    pub fn send(&self, c: Control) {
        let _ = self.control.send(Arc::new(c));
    }

    /// Frames of this op the client sent.
    pub fn sent(&self, op: u64) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|v| v["op"] == op)
            .cloned()
            .collect()
    }

    /// Waits (15 s at most) until the client has sent `n` frames of `op`.
    pub async fn wait_sent(&self, op: u64, n: usize) -> Vec<Value> {
        let waited = tokio::time::timeout(Duration::from_secs(15), async {
            loop {
                let changed = self.changed.notified();
                let sent = self.sent(op);
                if sent.len() >= n {
                    return sent;
                }
                changed.await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| panic!("the client did not send {n} of op {op}"))
    }
}

/// Discord's recorded slash-command dispatch, made `/sb ask owner name=NAME` in `channel`, its
/// token `t-ID`.
pub fn owner_question(id: &str, application: u64, channel: &str, name: &str) -> Value {
    let mut d = fixture("gateway-dispatch-INTERACTION_CREATE-subcommand-group.json")["d"].clone();
    d["id"] = json!(id);
    d["token"] = json!(format!("t-{id}"));
    d["application_id"] = json!(application.to_string());
    d["channel_id"] = json!(channel);
    // Fields Discord sends now that the recording predates; serenity needs them.
    d["locale"] = json!("en-US");
    d["entitlements"] = json!([]);
    d["attachment_size_limit"] = json!(8_388_608);
    d["data"]["name"] = json!("sb");
    d["data"]["type"] = json!(1);
    d["data"]["options"] = json!([{"type": 2, "name": "ask", "options": [
        {"type": 1, "name": "owner", "options": [{"type": 3, "name": "name", "value": name}]}]}]);
    d
}
