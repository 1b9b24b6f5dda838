//! The kinds of target Salt's `tgt_type` names, parsed once from its strings
//! so the rest of targeting matches on an enum instead of on text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::TargetError;

/// A `tgt_type`: what the target expression is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetType {
    Glob,
    Pcre,
    List,
    Grain,
    GrainPcre,
    Pillar,
    PillarPcre,
    IpCidr,
    Compound,
    Nodegroup,
    /// Salt's `-R` (SECO range): known, so its error says "unsupported"
    /// rather than "unknown".
    Range,
}

impl TargetType {
    /// Every type with its `tgt_type` string, the one table of the names.
    const NAMES: [(TargetType, &'static str); 11] = [
        (TargetType::Glob, "glob"),
        (TargetType::Pcre, "pcre"),
        (TargetType::List, "list"),
        (TargetType::Grain, "grain"),
        (TargetType::GrainPcre, "grain_pcre"),
        (TargetType::Pillar, "pillar"),
        (TargetType::PillarPcre, "pillar_pcre"),
        (TargetType::IpCidr, "ipcidr"),
        (TargetType::Compound, "compound"),
        (TargetType::Nodegroup, "nodegroup"),
        (TargetType::Range, "range"),
    ];

    /// Salt's `tgt_type` string for this type.
    pub fn as_str(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(ty, _)| *ty == self)
            .map_or("glob", |(_, name)| name)
    }

    /// The type a `tgt_type` string names; an unknown one is
    /// [`TargetError::UnknownType`].
    pub fn parse(raw: &str) -> Result<Self, TargetError> {
        Self::NAMES
            .iter()
            .find(|(_, name)| *name == raw)
            .map(|(ty, _)| *ty)
            .ok_or_else(|| TargetError::UnknownType(raw.to_string()))
    }
}

impl fmt::Display for TargetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TargetType {
    type Err = TargetError;
    fn from_str(raw: &str) -> Result<Self, TargetError> {
        Self::parse(raw)
    }
}

impl Serialize for TargetType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TargetType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_salt_string_in_msgpack_and_json() {
        for (ty, name) in TargetType::NAMES {
            assert_eq!(TargetType::parse(name), Ok(ty));
            assert_eq!(ty.to_string(), name);
            let bytes = rmp_serde::to_vec(&ty).expect("encode");
            assert_eq!(bytes, rmp_serde::to_vec(&name).expect("encode"), "{name}");
            assert_eq!(
                rmp_serde::from_slice::<TargetType>(&bytes).expect("decode"),
                ty
            );
            let json = serde_json::to_string(&ty).expect("json");
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<TargetType>(&json).expect("json"), ty);
        }
    }

    #[test]
    fn an_unknown_type_is_an_error_naming_it() {
        assert_eq!(
            TargetType::parse("pillar_exact"),
            Err(TargetError::UnknownType("pillar_exact".into()))
        );
        let bytes = rmp_serde::to_vec(&"bogus").expect("encode");
        let err = rmp_serde::from_slice::<TargetType>(&bytes).expect_err("unknown");
        assert!(err.to_string().contains("\"bogus\""), "{err}");
    }
}
