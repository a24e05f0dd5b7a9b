//! The WebSocket edge of posting, beside `transport`'s HTTP one: open a
//! connection, send one text frame, and wait for the frame that answers it
//! (a relay's `OK`). The platform says which frame answers and what it
//! means; this module only moves frames. `WsSockets` is the real one
//! (tokio-tungstenite with rustls).

use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use url::Url;

/// What a server answered to a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// It took the message.
    Accepted(String),
    /// It refused it; `retry` says whether a later try may succeed.
    Refused { message: String, retry: bool },
}

/// Reads one incoming text frame: `Some` when it answers the frame sent.
pub type ReadReply<'a> = dyn Fn(&str) -> Option<Reply> + Send + Sync + 'a;

/// Sends one frame on a new connection and waits for its answer.
pub trait Sockets: Send + Sync {
    /// `Err` is a failure of the connection (none, closed, no answer in
    /// `timeout`): the frame may or may not have arrived.
    fn exchange<'a>(
        &'a self,
        url: &'a Url,
        frame: String,
        read: &'a ReadReply<'a>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Reply, String>>;
}

/// WebSockets over TCP or TLS (rustls, the web PKI's roots).
#[derive(Debug, Default)]
pub struct WsSockets;

/// Incoming frames read while waiting for the answer, at most: a server
/// that only talks of other things is not waited on for ever.
const MAX_FRAMES: usize = 1000;

impl Sockets for WsSockets {
    fn exchange<'a>(
        &'a self,
        url: &'a Url,
        frame: String,
        read: &'a ReadReply<'a>,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Reply, String>> {
        Box::pin(async move {
            let talk = async {
                let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
                    .await
                    .map_err(|e| format!("cannot connect: {e}"))?;
                ws.send(Message::text(frame))
                    .await
                    .map_err(|e| format!("cannot send: {e}"))?;
                for _ in 0..MAX_FRAMES {
                    match ws.next().await {
                        Some(Ok(Message::Text(text))) => {
                            if let Some(reply) = read(text.as_str()) {
                                let _ = ws.close(None).await;
                                return Ok(reply);
                            }
                        }
                        Some(Ok(Message::Close(_))) | None => {
                            return Err(
                                "the server closed the connection without answering".to_string()
                            );
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(format!("the connection failed: {e}")),
                    }
                }
                Err(format!("no answer among {MAX_FRAMES} frames"))
            };
            tokio::time::timeout(timeout, talk)
                .await
                .unwrap_or_else(|_| Err(format!("no answer within {}s", timeout.as_secs())))
        })
    }
}
