//! libipvs's `ipvs_strerror`: the text ipvsadm prints for an errno, which
//! depends on the operation that failed.

use lvs_proto::{Errno, Request};

/// The libipvs function a request corresponds to (they key libipvs's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `ipvs_add_service`
    AddService,
    /// `ipvs_update_service`
    UpdateService,
    /// `ipvs_del_service`
    DelService,
    /// `ipvs_zero_service`
    ZeroService,
    /// `ipvs_add_dest`
    AddDest,
    /// `ipvs_update_dest`
    UpdateDest,
    /// `ipvs_del_dest`
    DelDest,
    /// `ipvs_start_daemon`
    StartDaemon,
    /// `ipvs_stop_daemon`
    StopDaemon,
    /// `ipvs_get_services`
    GetServices,
    /// `ipvs_get_service`
    GetService,
    /// Anything else (flush, timeouts, info, ...).
    Other,
}

impl Op {
    /// The operation of a request.
    pub fn of(req: &Request) -> Op {
        match req {
            Request::AddService(_) => Op::AddService,
            Request::EditService(_) => Op::UpdateService,
            Request::DelService(_) => Op::DelService,
            Request::Zero(_) => Op::ZeroService,
            Request::AddDest { .. } => Op::AddDest,
            Request::EditDest { .. } => Op::UpdateDest,
            Request::DelDest { .. } => Op::DelDest,
            Request::StartDaemon(_) => Op::StartDaemon,
            Request::StopDaemon(_) => Op::StopDaemon,
            Request::ListServices => Op::GetServices,
            Request::GetService(_) => Op::GetService,
            _ => Op::Other,
        }
    }
}

/// `ipvs_strerror(errno)` after operation `op`.
pub fn strerror(op: Op, errno: Errno) -> String {
    use Errno as E;
    use Op::*;
    let specific = match (op, errno) {
        (AddService, E::Eexist) => Some("Service already exists"),
        (AddService | UpdateService, E::Enoent) => {
            Some("Scheduler or persistence engine not found")
        }
        (UpdateService | DelService | ZeroService | GetServices | GetService, E::Esrch) => {
            Some("No such service")
        }
        (AddDest | UpdateDest | DelDest, E::Esrch) => Some("Service not defined"),
        (AddDest, E::Eexist) => Some("Destination already exists"),
        (UpdateDest | DelDest, E::Enoent) => Some("No such destination"),
        (StartDaemon, E::Eexist) => Some("Daemon has already run"),
        (StopDaemon, E::Esrch) => Some("No daemon is running"),
        (_, E::Eperm) => Some("Permission denied (you must be root)"),
        (_, E::Einval) => {
            Some("Invalid operation.  Possibly wrong module version, address not unicast, ...")
        }
        (_, E::Enoprotoopt) => Some("Protocol not available"),
        (_, E::Enomem) => Some("Memory allocation problem"),
        (_, E::Eopnotsupp) => Some("Operation not supported with IPv6"),
        (_, E::Eafnosupport) => Some("Operation not supported with specified address family"),
        (_, E::Emsgsize) => Some("Module is wrong version"),
        _ => None,
    };
    specific
        .map(str::to_string)
        .unwrap_or_else(|| errno.strerror())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_specific_texts() {
        assert_eq!(strerror(Op::AddDest, Errno::Esrch), "Service not defined");
        assert_eq!(strerror(Op::DelService, Errno::Esrch), "No such service");
        assert_eq!(
            strerror(Op::AddDest, Errno::Enoent),
            "No such file or directory"
        );
        assert_eq!(
            strerror(Op::Other, Errno::Erange),
            "Numerical result out of range"
        );
        assert_eq!(strerror(Op::StartDaemon, Errno::Enodev), "No such device");
    }
}
