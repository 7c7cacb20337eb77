//! From state-machine actions to control requests, and the IPVS table a
//! set of state machines stands for.
//!
//! Pure. A virtual server is one IPVS service, or one per member of its
//! `virtual_server_group` ([`lvs_config::vs_services`]); every destination
//! action applies to each of its services, with the port rule of
//! [`lvs_config::dest_spec`] (NAT keeps the real server's port, the other
//! methods take the service's). [`table`] lists what the machine's actions
//! have built, in the order [`lvs_config::lower_table`] uses (real servers
//! in file order, then the sorry server), so that a freshly started machine
//! gives exactly the start-up table, and a reload is the
//! [`lvs_config::diff`] of two such tables.

use lvs_config::{TableService, dest_spec};
use lvs_proto::{Request, ServiceSpec};

use crate::state::{Action, DestSpec, VsMachine};

fn proto_dest(key: lvs_proto::ServiceKey, d: &DestSpec) -> lvs_proto::DestSpec {
    dest_spec(
        key,
        d.addr,
        d.port,
        d.method,
        d.weight,
        d.uthreshold,
        d.lthreshold,
    )
}

/// The requests applying `action` to every service of a virtual server
/// (none for [`Action::RunScript`]).
pub fn requests(services: &[ServiceSpec], action: &Action) -> Vec<Request> {
    services
        .iter()
        .filter_map(|s| {
            let key = s.key;
            match action {
                Action::AddDest { dest, .. } => Some(Request::AddDest {
                    service: key,
                    dest: proto_dest(key, dest),
                }),
                Action::SetWeight { dest, .. } => Some(Request::EditDest {
                    service: key,
                    dest: proto_dest(key, dest),
                }),
                Action::RemoveDest { dest, .. } => Some(Request::DelDest {
                    service: key,
                    dest: proto_dest(key, dest).key(),
                }),
                Action::RunScript(_) => None,
            }
        })
        .collect()
}

/// The services of a virtual server with the destinations `machine` has
/// put in IPVS ([`VsMachine::ipvs_dests`]).
pub fn table(services: &[ServiceSpec], machine: &VsMachine) -> Vec<TableService> {
    let dests = machine.ipvs_dests();
    services
        .iter()
        .map(|s| TableService {
            spec: s.clone(),
            dests: dests.iter().map(|(_, d)| proto_dest(s.key, d)).collect(),
        })
        .collect()
}
