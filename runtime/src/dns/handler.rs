//! The hickory request handler of one namespace, and the name data all handlers share.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use hickory_proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use super::LOCAL_TTL;
use super::forward::Forwarder;
use super::lookup::{self, Answer, Rdata};
use super::names::Snapshot;

/// What every namespace's handler reads: the current snapshot (swapped whole on reload) and
/// how to forward.
#[derive(Debug)]
pub(crate) struct Shared {
    snapshot: RwLock<Arc<Snapshot>>,
    pub forwarder: Forwarder,
}

impl Shared {
    pub fn new(forwarder: Forwarder) -> Self {
        Shared {
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            forwarder,
        }
    }

    /// The snapshot in force now. A query keeps the one it started with until it is answered.
    pub fn current(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts `next` in force for every query that starts from now on.
    pub fn swap(&self, next: Arc<Snapshot>) {
        match self.snapshot.write() {
            Ok(mut g) => *g = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }
}

/// Answers the queries asked inside one namespace.
#[derive(Debug)]
pub(crate) struct NsHandler {
    pub netns: String,
    pub shared: Arc<Shared>,
}

/// The EDNS section of the reply: present when the query had one (RFC 6891), same payload size.
fn response_edns(request: &Request) -> Option<Edns> {
    let req = request.edns.as_ref()?;
    let mut e = Edns::new();
    e.set_max_payload(req.max_payload().max(512));
    e.set_version(0);
    e.set_dnssec_ok(req.flags().dnssec_ok);
    Some(e)
}

fn metadata(request: &Request, code: ResponseCode, local: bool) -> Metadata {
    let mut md = Metadata::response_from_request(&request.metadata);
    md.response_code = code;
    md.authoritative = local;
    md.recursion_available = true;
    md
}

fn failed(request: &Request) -> ResponseInfo {
    ResponseInfo::from(Header {
        metadata: metadata(request, ResponseCode::ServFail, false),
        counts: HeaderCounts::default(),
    })
}

/// Local answer records for `owner`; `None` when a PTR target is not a valid DNS name.
fn records(owner: &Name, data: &[Rdata]) -> Option<Vec<Record>> {
    data.iter()
        .map(|d| {
            let rdata = match d {
                Rdata::A(ip) => RData::A(A(*ip)),
                Rdata::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
                Rdata::Ptr(target) => RData::PTR(PTR(Name::from_ascii(target).ok()?)),
            };
            Some(Record::from_rdata(owner.clone(), LOCAL_TTL, rdata))
        })
        .collect()
}

/// What to do with one request, decided without any I/O.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Answer with this response code and no records (malformed or unsupported request).
    Code(ResponseCode),
    /// A local answer, or a forward to these upstreams.
    Answer(Answer, Vec<IpAddr>),
}

impl Decision {
    /// Whether carrying it out waits for an upstream (so it must not block a receive loop).
    pub fn forwards(&self) -> bool {
        matches!(self, Decision::Answer(Answer::Forward, _))
    }
}

impl NsHandler {
    /// Looks the question up in the current snapshot.
    pub fn decide(&self, request: &Request) -> Decision {
        if request.metadata.op_code != OpCode::Query {
            return Decision::Code(ResponseCode::NotImp);
        }
        let Ok(info) = request.request_info() else {
            return Decision::Code(ResponseCode::FormErr);
        };
        let qname = lookup::name_text(info.query.original().name().iter());
        let snap = self.shared.current();
        match snap.view(&self.netns) {
            Some(view) => {
                let answer = lookup::answer(&snap, view, &qname, info.query.query_type());
                let upstreams = match answer {
                    Answer::Forward => view.upstreams.clone(),
                    _ => Vec::new(),
                };
                Decision::Answer(answer, upstreams)
            }
            // Being removed: the namespace no longer has a container to serve.
            None => Decision::Answer(Answer::NoForward, Vec::new()),
        }
    }

    /// Carries out `decision`: sends the local answer, or forwards and relays.
    pub async fn respond<R: ResponseHandler>(
        &self,
        request: &Request,
        decision: Decision,
        mut rh: R,
    ) -> ResponseInfo {
        let edns = response_edns(request);
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(e) = &edns {
            builder.edns(e);
        }
        let code_only = |code: ResponseCode| metadata(request, code, false);
        let answer = match decision {
            Decision::Code(code) => {
                let r = builder.build_no_records(code_only(code));
                return rh.send_response(r).await.unwrap_or_else(|_| failed(request));
            }
            Decision::Answer(answer, upstreams) => (answer, upstreams),
        };
        let sent = match answer {
            (Answer::Records(data), _) => {
                let owner = request
                    .request_info()
                    .map(|i| i.query.original().name().clone())
                    .unwrap_or_default();
                match records(&owner, &data) {
                    Some(recs) => {
                        let md = metadata(request, ResponseCode::NoError, true);
                        rh.send_response(builder.build(md, recs.iter(), &[], &[], &[]))
                            .await
                    }
                    None => {
                        let r = builder.build_no_records(code_only(ResponseCode::ServFail));
                        rh.send_response(r).await
                    }
                }
            }
            (Answer::NoData, _) => {
                let md = metadata(request, ResponseCode::NoError, true);
                rh.send_response(builder.build_no_records(md)).await
            }
            (Answer::NxDomain, _) => {
                let md = metadata(request, ResponseCode::NXDomain, true);
                rh.send_response(builder.build_no_records(md)).await
            }
            (Answer::NoForward, _) => {
                rh.send_response(builder.build_no_records(code_only(ResponseCode::ServFail)))
                    .await
            }
            (Answer::Forward, upstreams) => {
                let tcp = request.protocol() == Protocol::Tcp;
                match self
                    .shared
                    .forwarder
                    .forward(request.as_slice(), &upstreams, tcp)
                    .await
                {
                    Some(reply) => {
                        let mut md = reply.metadata;
                        md.id = request.metadata.id;
                        // The upstream's TC flag stays: the client retries over TCP.
                        md.authoritative = false;
                        md.recursion_available = true;
                        let r = builder.build(
                            md,
                            reply.answers.iter(),
                            reply.authorities.iter(),
                            &[],
                            reply.additionals.iter(),
                        );
                        rh.send_response(r).await
                    }
                    None => {
                        rh.send_response(builder.build_no_records(code_only(ResponseCode::ServFail)))
                            .await
                    }
                }
            }
        };
        sent.unwrap_or_else(|_| failed(request))
    }
}

#[async_trait::async_trait]
impl RequestHandler for NsHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, rh: R) -> ResponseInfo {
        let decision = self.decide(request);
        self.respond(request, decision, rh).await
    }
}
