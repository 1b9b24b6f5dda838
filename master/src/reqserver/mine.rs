//! Salt's mine on the request channel: a minion stores and deletes its own
//! mine data, and reads the data of the minions a target matches.

use brine_common::ids::MinionId;
use brine_common::target::TargetType;
use brine_common::wire::Reply;
use serde_json::{Map, Value};

use crate::mine::MineStore;
use crate::minion_data::MinionData;

/// Merge `data` over `minion`'s mine data, or replace it all with `clear`.
pub(super) fn send(
    mine: &MineStore,
    minion: &MinionId,
    data: Map<String, Value>,
    clear: bool,
) -> Reply {
    mine.send(minion.as_str(), data, clear);
    Reply::Ok
}

/// Forget one mine function of `minion`, or all of them (`None`).
pub(super) fn delete(mine: &MineStore, minion: &MinionId, fun: Option<&str>) -> Reply {
    mine.delete(minion.as_str(), fun);
    Reply::Ok
}

/// The mine data of `fun` from every minion the target matches.
pub(super) fn get(
    mine: &MineStore,
    minion_data: &MinionData,
    minion: &MinionId,
    tgt: &Value,
    tgt_type: TargetType,
    fun: &Value,
) -> Reply {
    match mine.get(minion_data, minion.as_str(), tgt, tgt_type, fun) {
        Ok(found) => Reply::Mine(found),
        Err(reason) => Reply::Refused { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(name: &str) -> MinionId {
        MinionId::parse(name).expect("id")
    }

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("a map")
    }

    /// A minion stores only as itself, and reads what the target matches.
    #[test]
    fn a_minion_sends_its_own_data_and_gets_the_targets() {
        let (mine, data) = (MineStore::in_memory(), MinionData::default());
        let send_ips = |name: &str, ip: &str| {
            send(
                &mine,
                &id(name),
                map(json!({"network.ip_addrs": [ip]})),
                false,
            )
        };
        assert!(matches!(send_ips("web1", "10.0.0.1"), Reply::Ok));
        assert!(matches!(send_ips("web2", "10.0.0.2"), Reply::Ok));
        assert!(matches!(send_ips("db1", "10.0.0.3"), Reply::Ok));

        // What `db1` gets for `web*`.
        let web_ips = || {
            let reply = get(
                &mine,
                &data,
                &id("db1"),
                &json!("web*"),
                TargetType::Glob,
                &json!("network.ip_addrs"),
            );
            match reply {
                Reply::Mine(found) => Value::Object(found),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            web_ips(),
            json!({"web1": ["10.0.0.1"], "web2": ["10.0.0.2"]})
        );
        assert!(matches!(delete(&mine, &id("web2"), None), Reply::Ok));
        assert_eq!(web_ips(), json!({"web1": ["10.0.0.1"]}));
    }

    #[test]
    fn a_bad_target_is_refused() {
        let (mine, data) = (MineStore::in_memory(), MinionData::default());
        let reply = get(
            &mine,
            &data,
            &id("db1"),
            &json!("( web*"),
            TargetType::Compound,
            &json!("f"),
        );
        assert!(matches!(reply, Reply::Refused { .. }), "{reply:?}");
    }
}
