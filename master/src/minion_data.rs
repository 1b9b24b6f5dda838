//! What each minion last told the master about itself (grains and pillar),
//! kept in memory for targeting and written through to the job cache so it
//! survives a restart.
//!
//! Ten thousand minions' grains as JSON trees would cost the master a
//! quarter of a gigabyte, so each minion's data is kept as its msgpack
//! encoding (about a third of the size). Working out whom a grain target
//! expects then decodes only the keys the target reads (`G@role:web` reads
//! `role`), skipping over the rest of each record without allocating.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use brine_common::ids::MinionId;
use brine_common::target::DataNeeds;
use serde_json::{Map, Value};

use crate::job_cache::{CacheError, JobCache};

#[derive(Default)]
pub struct MinionData {
    by_id: RwLock<HashMap<String, Arc<[u8]>>>,
}

impl MinionData {
    /// Everything the job cache remembers.
    pub fn load(cache: &dyn JobCache) -> Result<Self, CacheError> {
        let by_id = cache
            .all_minion_data()?
            .into_iter()
            .filter_map(|(id, v)| Some((id, encode(&v)?)))
            .collect();
        Ok(MinionData {
            by_id: RwLock::new(by_id),
        })
    }

    /// Record `id`'s data (`{"grains": ..., "pillar": ...}`) here and in the cache.
    pub fn set(&self, cache: &dyn JobCache, id: &MinionId, data: Value) -> Result<(), CacheError> {
        let packed = rmp_serde::to_vec_named(&data).map_err(encode_error(id))?;
        self.store(cache, id, Arc::from(packed))
    }

    /// Replace `id`'s grains (what the minion says of itself), keeping the
    /// pillar the master compiled for it.
    pub fn set_grains(
        &self,
        cache: &dyn JobCache,
        id: &MinionId,
        grains: Map<String, Value>,
    ) -> Result<(), CacheError> {
        self.replace_part(cache, id, "grains", grains)
    }

    /// Replace `id`'s pillar with one the master compiled, keeping its grains.
    pub fn set_pillar(
        &self,
        cache: &dyn JobCache,
        id: &MinionId,
        pillar: Map<String, Value>,
    ) -> Result<(), CacheError> {
        self.replace_part(cache, id, "pillar", pillar)
    }

    /// Replace one part (`grains` or `pillar`) of `id`'s record, keeping the
    /// other as it is (under the write lock, so two updates cannot lose one).
    /// The record is put together from msgpack: the kept part's bytes are
    /// copied, not decoded and encoded again (every minion reports its
    /// grains when it authenticates, so a fleet starting pays this 10,000
    /// times).
    fn replace_part(
        &self,
        cache: &dyn JobCache,
        id: &MinionId,
        part: &str,
        value: Map<String, Value>,
    ) -> Result<(), CacheError> {
        let mut by_id = self.write();
        let old = by_id.get(id.as_str()).cloned();
        let mut packed = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = rmp::encode::write_map_len(&mut packed, 2);
        for name in ["grains", "pillar"] {
            let _ = rmp::encode::write_str(&mut packed, name);
            if name == part {
                rmp_serde::encode::write_named(&mut packed, &value).map_err(encode_error(id))?;
            } else {
                match old.as_deref().and_then(|o| map_bytes(o, name)) {
                    Some(kept) => packed.extend_from_slice(kept),
                    None => {
                        let _ = rmp::encode::write_map_len(&mut packed, 0);
                    }
                }
            }
        }
        let packed: Arc<[u8]> = Arc::from(packed);
        cache.set_minion_data(id, packed.to_vec())?;
        by_id.insert(id.to_string(), packed);
        Ok(())
    }

    /// Record `packed` as `id`'s data here and in the cache.
    fn store(
        &self,
        cache: &dyn JobCache,
        id: &MinionId,
        packed: Arc<[u8]>,
    ) -> Result<(), CacheError> {
        let mut by_id = self.write();
        cache.set_minion_data(id, packed.to_vec())?;
        by_id.insert(id.to_string(), packed);
        Ok(())
    }

    /// Read `id`'s data again from the cache, where another master of the
    /// cluster store changed it.
    pub fn reload(&self, cache: &dyn JobCache, id: &MinionId) -> Result<(), CacheError> {
        let stored = cache.minion_data(id)?.and_then(|v| encode(&v));
        let mut by_id = self.write();
        match stored {
            Some(packed) => by_id.insert(id.to_string(), packed),
            None => by_id.remove(id.as_str()),
        };
        Ok(())
    }

    /// Read every minion's data again from the cache.
    pub fn reload_all(&self, cache: &dyn JobCache) -> Result<(), CacheError> {
        let fresh = Self::load(cache)?;
        let fresh = fresh.by_id.into_inner().unwrap_or_else(|p| p.into_inner());
        *self.write() = fresh;
        Ok(())
    }

    /// Forget `id` (its key was deleted).
    pub fn remove(&self, cache: &dyn JobCache, id: &MinionId) -> Result<(), CacheError> {
        cache.remove_minion_data(id)?;
        self.write().remove(id.as_str());
        Ok(())
    }

    /// `{"grains": {...}, "pillar": {...}}` of `id` holding only what `needs`
    /// names; `None` when the minion never reported.
    pub fn facts(&self, id: &str, needs: &DataNeeds) -> Option<Value> {
        let packed = self.read().get(id).cloned()?;
        let mut out = Map::new();
        for (part, keys) in [("grains", &needs.grains), ("pillar", &needs.pillar)] {
            let subset = extract(&packed, part, keys.as_ref()).unwrap_or_default();
            out.insert(part.into(), Value::Object(subset));
        }
        Some(Value::Object(out))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<[u8]>>> {
        self.by_id.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<[u8]>>> {
        self.by_id.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn encode(v: &Value) -> Option<Arc<[u8]>> {
    rmp_serde::to_vec_named(v).ok().map(Arc::from)
}

fn encode_error(id: &MinionId) -> impl FnOnce(rmp_serde::encode::Error) -> CacheError + '_ {
    move |source| CacheError::Encode {
        what: format!("data of minion {id}"),
        source,
    }
}

/// The bytes of the map under top-level key `part` of a record, or `None`
/// when the record has no such map (an unreadable record counts as empty).
fn map_bytes<'a>(packed: &'a [u8], part: &str) -> Option<&'a [u8]> {
    let mut buf = packed;
    let value = find_entry(&mut buf, part)?;
    let is_map = matches!(
        rmp::decode::read_marker(&mut &value[..]).ok()?,
        rmp::Marker::FixMap(_) | rmp::Marker::Map16 | rmp::Marker::Map32
    );
    is_map.then_some(value)
}

/// The entries of the map under top-level key `part` whose keys are in
/// `keys` (all of them for `None`), decoding nothing else. `None` for bytes
/// that are not such a record. (Public for the fuzzer: it walks msgpack by
/// hand.)
pub fn extract(
    packed: &[u8],
    part: &str,
    keys: Option<&BTreeSet<String>>,
) -> Option<Map<String, Value>> {
    if keys.is_some_and(BTreeSet::is_empty) {
        return Some(Map::new());
    }
    let mut buf = packed;
    let inner = find_entry(&mut buf, part)?;
    let mut buf = inner;
    let len = rmp::decode::read_map_len(&mut buf).ok()?;
    let mut out = Map::new();
    for _ in 0..len {
        let key = read_str(&mut buf)?;
        let start = buf;
        skip_value(&mut buf)?;
        let wanted = keys.is_none_or(|k| k.contains(key));
        if wanted {
            let span = &start[..start.len() - buf.len()];
            out.insert(key.to_string(), rmp_serde::from_slice(span).ok()?);
        }
    }
    Some(out)
}

/// In a msgpack map at `buf`, the bytes of the value under `key`.
fn find_entry<'a>(buf: &mut &'a [u8], key: &str) -> Option<&'a [u8]> {
    let len = rmp::decode::read_map_len(buf).ok()?;
    for _ in 0..len {
        let k = read_str(buf)?;
        let start = *buf;
        skip_value(buf)?;
        if k == key {
            return Some(&start[..start.len() - buf.len()]);
        }
    }
    None
}

fn read_str<'a>(buf: &mut &'a [u8]) -> Option<&'a str> {
    let len = rmp::decode::read_str_len(buf).ok()? as usize;
    let (s, rest) = (buf.get(..len)?, buf.get(len..)?);
    *buf = rest;
    std::str::from_utf8(s).ok()
}

/// Advance past one msgpack value.
fn skip_value(buf: &mut &[u8]) -> Option<()> {
    use rmp::Marker;
    let marker = rmp::decode::read_marker(buf).ok()?;
    let take = |buf: &mut &[u8], n: usize| -> Option<()> {
        *buf = buf.get(n..)?;
        Some(())
    };
    let be = |buf: &mut &[u8], n: usize| -> Option<usize> {
        let bytes = buf.get(..n)?;
        let v = bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        *buf = buf.get(n..)?;
        Some(v)
    };
    match marker {
        Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => {
            Some(())
        }
        Marker::U8 | Marker::I8 => take(buf, 1),
        Marker::U16 | Marker::I16 => take(buf, 2),
        Marker::U32 | Marker::I32 | Marker::F32 => take(buf, 4),
        Marker::U64 | Marker::I64 | Marker::F64 => take(buf, 8),
        Marker::FixStr(n) => take(buf, n as usize),
        Marker::Str8 | Marker::Bin8 => be(buf, 1).and_then(|n| take(buf, n)),
        Marker::Str16 | Marker::Bin16 => be(buf, 2).and_then(|n| take(buf, n)),
        Marker::Str32 | Marker::Bin32 => be(buf, 4).and_then(|n| take(buf, n)),
        Marker::FixArray(n) => (0..n).try_for_each(|_| skip_value(buf)),
        Marker::Array16 => be(buf, 2).and_then(|n| (0..n).try_for_each(|_| skip_value(buf))),
        Marker::Array32 => be(buf, 4).and_then(|n| (0..n).try_for_each(|_| skip_value(buf))),
        Marker::FixMap(n) => (0..n * 2).try_for_each(|_| skip_value(buf)),
        Marker::Map16 => be(buf, 2).and_then(|n| (0..n * 2).try_for_each(|_| skip_value(buf))),
        Marker::Map32 => be(buf, 4).and_then(|n| (0..n * 2).try_for_each(|_| skip_value(buf))),
        Marker::FixExt1 => take(buf, 2),
        Marker::FixExt2 => take(buf, 3),
        Marker::FixExt4 => take(buf, 5),
        Marker::FixExt8 => take(buf, 9),
        Marker::FixExt16 => take(buf, 17),
        Marker::Ext8 => be(buf, 1).and_then(|n| take(buf, n + 1)),
        Marker::Ext16 => be(buf, 2).and_then(|n| take(buf, n + 1)),
        Marker::Ext32 => be(buf, 4).and_then(|n| take(buf, n + 1)),
        Marker::Reserved => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_needed_keys_are_decoded() {
        let data = json!({
            "grains": {"role": "web", "num": 4, "nested": {"a": [1, 2.5, null, true]}, "big": "x".repeat(70000)},
            "pillar": {"env": "prod"}
        });
        let packed = encode(&data).expect("encode");
        let keys: BTreeSet<String> = ["nested".to_string(), "role".to_string()].into();
        let got = extract(&packed, "grains", Some(&keys)).expect("extract");
        assert_eq!(
            Value::Object(got),
            json!({"role": "web", "nested": {"a": [1, 2.5, null, true]}})
        );
        let all = extract(&packed, "pillar", None).expect("all");
        assert_eq!(Value::Object(all), json!({"env": "prod"}));
        assert_eq!(
            extract(&packed, "grains", Some(&BTreeSet::new())),
            Some(Map::new())
        );
    }

    #[test]
    fn replacing_one_part_keeps_the_other_byte_for_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache =
            crate::job_cache::RedbJobCache::open(dir.path().join("jobs.redb")).expect("open");
        let data = MinionData::default();
        let id = MinionId::parse("web1").expect("id");
        let object = |v: Value| v.as_object().cloned().expect("map");
        let pillar = json!({"env": "prod", "list": [1, {"a": null}], "big": "p".repeat(300)});
        let grains = json!({"os": "Debian", "num_cpus": 2, "ipv4": ["127.0.0.1"]});

        data.set_grains(&cache, &id, object(json!({"os": "old"})))
            .expect("grains");
        data.set_pillar(&cache, &id, object(pillar.clone()))
            .expect("pillar");
        data.set_grains(&cache, &id, object(grains.clone()))
            .expect("grains again");

        let whole = json!({"grains": grains, "pillar": pillar});
        let expected = rmp_serde::to_vec_named(&whole).expect("encode");
        let held = data.read().get("web1").cloned().expect("held");
        assert_eq!(
            &held[..],
            &expected[..],
            "the same bytes as encoding the record"
        );
        assert_eq!(cache.minion_data(&id).expect("read"), Some(whole));
    }

    #[test]
    fn an_unreadable_kept_part_counts_as_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache =
            crate::job_cache::RedbJobCache::open(dir.path().join("jobs.redb")).expect("open");
        let data = MinionData::default();
        let id = MinionId::parse("web1").expect("id");
        // A pillar that is not a map (an older or damaged record).
        data.set(&cache, &id, json!({"grains": {}, "pillar": [1, 2]}))
            .expect("set");
        let grains = json!({"os": "Debian"});
        data.set_grains(&cache, &id, grains.as_object().cloned().expect("map"))
            .expect("grains");
        assert_eq!(
            cache.minion_data(&id).expect("read"),
            Some(json!({"grains": grains, "pillar": {}}))
        );
    }

    #[test]
    fn garbage_gives_nothing_rather_than_a_panic() {
        let wanted: BTreeSet<String> = ["os".to_string()].into();
        let record = rmp_serde::to_vec_named(&json!({"grains": {"os": "Debian"}})).expect("pack");
        let truncated = &record[..record.len() - 1];
        for bad in [
            &b""[..],
            // A reserved marker.
            &[0xc1][..],
            // A one-entry map whose key string stops short.
            &[0x81, 0xa1][..],
            // A map claiming 2^32 - 1 entries, with none there.
            &[0xdf, 0xff, 0xff, 0xff, 0xff][..],
            // Not a map at all.
            &[0x93, 0x01, 0x02, 0x03][..],
            truncated,
        ] {
            assert_eq!(extract(bad, "grains", None), None, "{bad:02x?}");
            assert_eq!(extract(bad, "grains", Some(&wanted)), None, "{bad:02x?}");
        }
        // The same record whole is read, so the refusals above are the garbage's.
        assert_eq!(
            extract(&record, "grains", Some(&wanted)),
            Some(json!({"os": "Debian"}).as_object().cloned().expect("map"))
        );
    }
}
