//! The UDP path of a namespace's server: one receive loop per socket that hands each datagram to
//! the namespace's hickory [`RequestHandler`](hickory_server::server::RequestHandler) logic and
//! sends the reply straight back on the same socket.
//!
//! Why not `Server::register_socket`: hickory's UDP server spawns a task per datagram and
//! passes every reply through a channel to the socket's task, two cross-task hand-offs per
//! query; on a small machine that doubled the CPU time per query (see docs/benchmarks.md). Here
//! a local answer (the common case) is decided and sent inline, and only a query that waits for
//! an upstream gets a task of its own, so a slow upstream never holds up the loop. TCP keeps
//! hickory's server.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_server::net::NetError;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use tokio::net::UdpSocket;

use super::handler::NsHandler;

/// Largest datagram read (queries are far smaller; anything longer is cut and fails to parse).
const RECV_BUFFER: usize = 4096;

/// Sends one reply to one client on the socket the query came in on. It does not keep the socket
/// open: once the namespace is closed, a late reply is dropped and the address is free at once.
#[derive(Clone)]
pub(crate) struct UdpResponder {
    socket: Weak<UdpSocket>,
    dst: SocketAddr,
    /// The client's EDNS payload size, or 512: longer answers are cut and flagged TC.
    max: u16,
}

/// A header-only reply with `code` to query `id`.
fn bare_reply(id: u16, op_code: OpCode, code: ResponseCode) -> (ResponseInfo, Vec<u8>) {
    let mut metadata = Metadata::new(id, MessageType::Response, op_code);
    metadata.response_code = code;
    let header = Header {
        metadata,
        counts: HeaderCounts::default(),
    };
    let mut bytes = Vec::with_capacity(12);
    let mut enc = BinEncoder::new(&mut bytes);
    // A 12-byte header always fits a fresh buffer.
    let _ = header.emit(&mut enc);
    (ResponseInfo::from(header), bytes)
}

#[async_trait::async_trait]
impl ResponseHandler for UdpResponder {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let id = response.metadata().id;
        let op_code = response.metadata().op_code;
        let mut bytes = Vec::with_capacity(512);
        let emitted = {
            let mut enc = BinEncoder::new(&mut bytes);
            enc.set_max_size(self.max);
            response.destructive_emit(&mut enc)
        };
        let info = match emitted {
            Ok(info) => info,
            Err(_) => {
                let (info, b) = bare_reply(id, op_code, ResponseCode::ServFail);
                bytes = b;
                info
            }
        };
        let socket = self
            .socket
            .upgrade()
            .ok_or_else(|| NetError::from("the namespace's socket was closed"))?;
        socket.send_to(&bytes, self.dst).await?;
        Ok(info)
    }
}

/// Serves `socket` until the task is aborted. Malformed datagrams get FORMERR when their header
/// is readable and nothing otherwise; responses are never answered.
pub(crate) async fn serve(socket: Arc<UdpSocket>, handler: Arc<NsHandler>) {
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        let (n, src) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            // ICMP errors from earlier replies and the like: the socket itself is fine.
            Err(_) => continue,
        };
        if src.port() == 0 {
            continue;
        }
        let datagram = &buf[..n];
        let request = match Request::from_bytes(datagram.to_vec(), src, Protocol::Udp) {
            Ok(r) => r,
            Err(_) => {
                // Byte 2 bit 7 is QR: never answer a response.
                if n >= 12 && datagram[2] & 0x80 == 0 {
                    let id = u16::from_be_bytes([datagram[0], datagram[1]]);
                    let op = OpCode::from_u8((datagram[2] >> 3) & 0x0f);
                    let (_, bytes) = bare_reply(id, op, ResponseCode::FormErr);
                    let _ = socket.send_to(&bytes, src).await;
                }
                continue;
            }
        };
        if request.metadata.message_type == MessageType::Response {
            continue;
        }
        let responder = UdpResponder {
            socket: Arc::downgrade(&socket),
            dst: src,
            max: request.max_payload(),
        };
        let decision = handler.decide(&request);
        if decision.forwards() {
            let handler = handler.clone();
            tokio::spawn(async move {
                handler.respond(&request, decision, responder).await;
            });
        } else {
            handler.respond(&request, decision, responder).await;
        }
    }
}
