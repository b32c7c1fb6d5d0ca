//! Content negotiation: what representation the client asked for in `Accept`.

/// The representation of a response body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Representation {
    /// The plain object or list as JSON.
    Json,
    /// The plain object or list as YAML.
    Yaml,
    /// A `meta.k8s.io/v1` Table.
    Table,
    /// `PartialObjectMetadata` / `PartialObjectMetadataList`.
    PartialMetadata,
    /// Aggregated discovery `apidiscovery.k8s.io/v2`.
    DiscoveryV2,
    /// Aggregated discovery `apidiscovery.k8s.io/v2beta1`.
    DiscoveryV2Beta1,
}

/// One media range of an `Accept` header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct MediaRange {
    essence: String,
    as_: Option<String>,
    g: Option<String>,
    v: Option<String>,
}

fn parse_accept(accept: &str) -> Vec<MediaRange> {
    accept
        .split(',')
        .map(|part| {
            let mut it = part.split(';');
            let mut m = MediaRange {
                essence: it.next().unwrap_or("").trim().to_ascii_lowercase(),
                ..Default::default()
            };
            for p in it {
                if let Some((k, v)) = p.split_once('=') {
                    let v = v.trim().trim_matches('"').to_owned();
                    match k.trim() {
                        "as" => m.as_ = Some(v),
                        "g" => m.g = Some(v),
                        "v" => m.v = Some(v),
                        _ => {}
                    }
                }
            }
            m
        })
        .collect()
}

/// Picks the first acceptable representation; `None` means 406.
///
/// `allowed` lists what the endpoint can produce besides JSON/YAML.
pub fn negotiate(accept: Option<&str>, allowed: &[Representation]) -> Option<Representation> {
    let accept = match accept {
        None => return Some(Representation::Json),
        Some(a) if a.trim().is_empty() => return Some(Representation::Json),
        Some(a) => a,
    };
    for m in parse_accept(accept) {
        let json_like = matches!(
            m.essence.as_str(),
            "application/json" | "*/*" | "application/*"
        );
        let yaml = m.essence == "application/yaml";
        if !(json_like || yaml) {
            continue;
        }
        let rep = match (m.as_.as_deref(), m.g.as_deref(), m.v.as_deref()) {
            (None, _, _) if yaml => Representation::Yaml,
            (None, _, _) => Representation::Json,
            (Some("Table"), Some("meta.k8s.io"), Some("v1" | "v1beta1")) => Representation::Table,
            (
                Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                Some("meta.k8s.io"),
                Some("v1" | "v1beta1"),
            ) => Representation::PartialMetadata,
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2")) => {
                Representation::DiscoveryV2
            }
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2beta1")) => {
                Representation::DiscoveryV2Beta1
            }
            _ => continue,
        };
        if matches!(rep, Representation::Json | Representation::Yaml) || allowed.contains(&rep) {
            return Some(rep);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use Representation::*;

    #[test]
    fn kubectl_get_prefers_table() {
        let a = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(Some(a), &[Table]), Some(Table));
        assert_eq!(negotiate(Some(a), &[]), Some(Json));
    }

    #[test]
    fn kube_rs_metadata_only_accept_without_support_is_not_acceptable() {
        let a = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
        assert_eq!(negotiate(Some(a), &[]), None);
        assert_eq!(
            negotiate(Some(a), &[PartialMetadata]),
            Some(PartialMetadata)
        );
    }

    #[test]
    fn missing_or_wildcard_accept_is_json() {
        assert_eq!(negotiate(None, &[]), Some(Json));
        assert_eq!(negotiate(Some("*/*"), &[]), Some(Json));
        assert_eq!(negotiate(Some("application/yaml"), &[]), Some(Yaml));
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf"), &[]),
            None
        );
    }

    #[test]
    fn discovery_v2_is_chosen_when_first() {
        let a = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(
            negotiate(Some(a), &[DiscoveryV2, DiscoveryV2Beta1]),
            Some(DiscoveryV2)
        );
    }
}
