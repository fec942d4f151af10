//! The network: `wasi:http` is the only surface, and every request passes
//! [`NetHooks::send_request`], the one place a request is decided and
//! recorded. Raw sockets and name lookup are linked so that any WASI
//! toolchain's components instantiate, but every use is refused and
//! recorded.
//!
//! This version decides every request `deny`: an undeclared origin with the
//! manifest line that would declare it, a declared one because outbound
//! HTTP is not enabled in this build yet.

use crate::audit::{Event, Recorder};
use std::future::Future;
use std::sync::Arc;
use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{self, ResolveAddressStream};
use wasmtime_wasi::p2::bindings::sockets::network::{
    self, ErrorCode as SocketCode, IpAddress, IpAddressFamily, Network,
};
use wasmtime_wasi::p2::bindings::sockets::{tcp_create_socket, udp_create_socket};
use wasmtime_wasi::p2::{DynPollable, SocketError, SocketResult, TcpSocket, UdpSocket};
use wasmtime_wasi_http::{WasiBody, WasiHttpHooks};

type ResponseFuture = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

/// The HTTP choke point of one run.
#[derive(Debug)]
pub struct NetHooks {
    /// Origins the run may reach.
    pub granted: Arc<Vec<String>>,
    /// Where requests are recorded.
    pub recorder: Recorder,
}

/// `scheme://host:port` of a request, with the scheme's default port.
fn origin_of(uri: &http::Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("https");
    let host = uri.host().unwrap_or("").to_ascii_lowercase();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "http" { 80 } else { 443 });
    format!("{scheme}://{host}:{port}")
}

impl WasiHttpHooks for NetHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> ResponseFuture {
        let uri = request.uri();
        let origin = origin_of(uri);
        let scheme = uri.scheme_str().unwrap_or("https");
        let host = uri.host().unwrap_or("");
        let declared = self.granted.iter().any(|g| {
            let with_port = if g
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            {
                g.clone()
            } else {
                format!("{g}:{}", if g.starts_with("http://") { 80 } else { 443 })
            };
            with_port == origin
        });
        let reason = if declared {
            format!(
                "outbound HTTP to {origin} is declared, but this airlock build does not send requests yet"
            )
        } else {
            format!(
                "{origin} is not declared: the manifest would need network = [\"{scheme}://{host}\"] in [capabilities]"
            )
        };
        let event = Event::new("net.request")
            .field("method", request.method().as_str().to_owned())
            .guest_text("target", &format!("{origin}{}", uri.path()))
            .deny(reason);
        // A failed record marks the run failed (see `Recorder`); the request
        // is refused either way.
        let _ = self.recorder.record(event);
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// The sockets' view of one run: everything refused, everything recorded.
pub struct SocketsView<'a> {
    /// The run's resources.
    pub table: &'a mut ResourceTable,
    /// Where refusals are recorded.
    pub recorder: &'a Recorder,
}

/// [`HasData`] marker for linking the refusing sockets.
pub struct DeniedSockets;

impl HasData for DeniedSockets {
    type Data<'a> = SocketsView<'a>;
}

impl SocketsView<'_> {
    fn refuse(&self, what: &'static str, target: String) -> SocketError {
        let event = Event::new("net.socket").field("kind", what).guest_text("target", &target).deny(
            "raw sockets and name lookup are not available to actions: use wasi:http to a declared origin",
        );
        match self.recorder.record(event) {
            Ok(_) => SocketCode::AccessDenied.into(),
            Err(e) => SocketError::trap(wasmtime::Error::new(e)),
        }
    }
}

fn family(f: IpAddressFamily) -> String {
    match f {
        IpAddressFamily::Ipv4 => "ipv4".into(),
        IpAddressFamily::Ipv6 => "ipv6".into(),
    }
}

impl network::Host for SocketsView<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<SocketCode> {
        error.downcast()
    }

    fn network_error_code(
        &mut self,
        _err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<SocketCode>> {
        // Only wasmtime-wasi's own network interface answers this; no socket
        // of this view ever produces an error resource.
        Ok(None)
    }
}

impl network::HostNetwork for SocketsView<'_> {
    fn drop(&mut self, network: Resource<Network>) -> wasmtime::Result<()> {
        self.table.delete(network)?;
        Ok(())
    }
}

impl tcp_create_socket::Host for SocketsView<'_> {
    fn create_tcp_socket(
        &mut self,
        address_family: IpAddressFamily,
    ) -> SocketResult<Resource<TcpSocket>> {
        Err(self.refuse("tcp", family(address_family)))
    }
}

impl udp_create_socket::Host for SocketsView<'_> {
    async fn create_udp_socket(
        &mut self,
        address_family: IpAddressFamily,
    ) -> SocketResult<Resource<UdpSocket>> {
        Err(self.refuse("udp", family(address_family)))
    }
}

impl ip_name_lookup::Host for SocketsView<'_> {
    fn resolve_addresses(
        &mut self,
        _network: Resource<Network>,
        name: String,
    ) -> Result<Resource<ResolveAddressStream>, SocketError> {
        Err(self.refuse("dns", name))
    }
}

impl ip_name_lookup::HostResolveAddressStream for SocketsView<'_> {
    fn resolve_next_address(
        &mut self,
        _stream: Resource<ResolveAddressStream>,
    ) -> Result<Option<IpAddress>, SocketError> {
        // No stream is ever created; a guest cannot hold one.
        Err(SocketCode::AccessDenied.into())
    }

    fn subscribe(
        &mut self,
        _stream: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        wasmtime::bail!("no name lookup stream exists")
    }

    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        self.table.delete(stream)?;
        Ok(())
    }
}
