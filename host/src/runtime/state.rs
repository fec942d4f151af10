//! The state of one run: the `T` of its `Store<T>`. Every capability
//! borrows its view from here; nothing outlives the run.

use super::limits::RunLimiter;
use crate::caps::config::{ConfigView, Values};
use crate::caps::fs::FsState;
use crate::caps::fs::audited::FsView;
use crate::caps::log::{LogState, LogView};
use crate::caps::net::{NetHooks, OutgoingView, SocketsView};
use crate::caps::secrets::{Redactor, Secrets, SecretsView};
use airlock_audit::Recorder;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::filesystem::WasiFilesystemCtxView;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Everything one run owns.
pub struct RunState {
    pub(crate) table: ResourceTable,
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) net: NetHooks,
    pub(crate) fs: FsState,
    pub(crate) secrets: Secrets,
    pub(crate) config: Arc<Values>,
    pub(crate) log: LogState,
    pub(crate) limiter: RunLimiter,
    pub(crate) recorder: Recorder,
    pub(crate) redactor: Redactor,
}

impl std::fmt::Debug for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunState")
            .field("run", &self.recorder.info().run)
            .finish_non_exhaustive()
    }
}

impl RunState {
    pub(crate) fn fs_view(&mut self) -> FsView<'_> {
        FsView {
            inner: WasiFilesystemCtxView {
                ctx: self.wasi.filesystem(),
                table: &mut self.table,
            },
            state: &mut self.fs,
            recorder: &self.recorder,
            redactor: &self.redactor,
        }
    }

    pub(crate) fn secrets_view(&mut self) -> SecretsView<'_> {
        SecretsView {
            secrets: &self.secrets,
            recorder: &self.recorder,
        }
    }

    pub(crate) fn config_view(&mut self) -> ConfigView<'_> {
        ConfigView {
            values: &self.config,
            recorder: &self.recorder,
        }
    }

    pub(crate) fn log_view(&mut self) -> LogView<'_> {
        LogView {
            state: &mut self.log,
            redactor: &self.redactor,
            recorder: &self.recorder,
        }
    }

    pub(crate) fn outgoing_view(&mut self) -> OutgoingView<'_> {
        OutgoingView::new(&mut self.http, &mut self.table, &mut self.net)
    }

    pub(crate) fn sockets_view(&mut self) -> SocketsView<'_> {
        SocketsView {
            table: &mut self.table,
            recorder: &self.recorder,
        }
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RunState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.net,
        }
    }
}
