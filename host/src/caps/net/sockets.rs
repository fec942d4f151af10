//! Raw sockets and name lookup: linked so that components from any WASI
//! toolchain instantiate, but every use is refused and recorded as
//! `net.socket`. The network of an action is `wasi:http`, through
//! [`NetHooks`](super::NetHooks).

use airlock_audit::EventKind;
use airlock_audit::{Event, Recorder};
use wasmtime::component::{HasData, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{self, ResolveAddressStream};
use wasmtime_wasi::p2::bindings::sockets::network::{
    self, ErrorCode as SocketCode, IpAddress, IpAddressFamily, Network,
};
use wasmtime_wasi::p2::bindings::sockets::{tcp_create_socket, udp_create_socket};
use wasmtime_wasi::p2::{DynPollable, SocketError, SocketResult, TcpSocket, UdpSocket};

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
        let event = Event::new(EventKind::NetSocket).field("kind", what).guest_text("target", &target).deny(
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
