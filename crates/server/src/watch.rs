//! Watch: newline-delimited JSON events streamed from the resource's watch cache.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Response, header};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use ironcore_apimachinery::{FieldError, Path};
use ironcore_storage::EventType;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::errors::ApiError;
use crate::filter::Filter;
use crate::negotiate::Representation;
use crate::object::set_meta;
use crate::registry::KindStrategy;
use crate::response::Body;
use crate::rest::{Ctx, list_objects};
use crate::table;
use crate::watch_cache::{CacheEvent, CacheMessage, WatchCache};

/// Server-wide watch settings.
#[derive(Clone, Debug)]
pub struct WatchSettings {
    /// How often an idle watch with bookmarks enabled gets a BOOKMARK.
    pub bookmark_interval: Duration,
    /// Longest watch when the client gives no `timeoutSeconds`.
    pub max_timeout: Duration,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            bookmark_interval: Duration::from_secs(60),
            max_timeout: Duration::from_secs(1800),
        }
    }
}

/// Encodes an event object for one client's representation.
struct Encoder {
    strategy: Arc<dyn KindStrategy>,
    rep: Representation,
    query: crate::request::Query,
    sent_columns: bool,
}

impl Encoder {
    fn line(&mut self, event_type: &str, obj: &Value) -> Bytes {
        let object = match (event_type, self.rep) {
            ("BOOKMARK" | "ERROR", _) => obj.clone(),
            (_, Representation::Table) => {
                let mut t = table::object_table(
                    self.strategy.as_ref(),
                    std::slice::from_ref(obj),
                    None,
                    &self.query,
                );
                if self.sent_columns
                    && let Some(m) = t.as_object_mut()
                {
                    m.remove("columnDefinitions");
                }
                self.sent_columns = true;
                t
            }
            (_, Representation::PartialMetadata) => table::partial_metadata(obj),
            _ => obj.clone(),
        };
        let mut line =
            serde_json::to_vec(&json!({"type": event_type, "object": object})).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }
}

fn bookmark(strategy: &dyn KindStrategy, rv: i64, initial_end: bool) -> Value {
    let info = strategy.info();
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": meta})
}

fn expired_status(message: String) -> Value {
    ApiError::expired(message).to_status()
}

/// GET with `watch=true` on a collection.
pub async fn watch(
    ctx: &Ctx<'_>,
    cache: Arc<WatchCache>,
    settings: &WatchSettings,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    on_close: impl Send + 'static,
) -> Result<Response<Body>, ApiError> {
    let q = ctx.query;
    let strategy = Arc::clone(ctx.strategy);
    let namespace = if strategy.info().namespaced {
        ctx.path.namespace.as_deref()
    } else {
        None
    };
    let mut field_selector = q.get("fieldSelector").map(str::to_owned);
    if let Some(name) = &ctx.path.name {
        field_selector = Some(match field_selector {
            Some(f) if !f.is_empty() => format!("{f},metadata.name={name}"),
            _ => format!("metadata.name={name}"),
        });
    }
    let filter = Filter::new(
        strategy.as_ref(),
        namespace,
        q.get("labelSelector"),
        field_selector.as_deref(),
    )?;
    let bookmarks = q.flag("allowWatchBookmarks");
    let send_initial = match q.non_empty("sendInitialEvents") {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    };
    if send_initial.is_some() && q.non_empty("resourceVersionMatch") != Some("NotOlderThan") {
        return Err(ApiError::invalid(
            "meta.k8s.io",
            "ListOptions",
            "",
            &vec![FieldError::forbidden(
                &Path::new("resourceVersionMatch"),
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            )],
        ));
    }
    let rv = q.non_empty("resourceVersion");
    let timeout = match q.non_empty("timeoutSeconds") {
        // 0 means "the server's default", as in kube-apiserver.
        Some("0") | None => settings.max_timeout,
        Some(t) => Duration::from_secs(
            t.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds: {t}")))?,
        ),
    };
    let wants_initial = match send_initial {
        Some(v) => v,
        None => matches!(rv, None | Some("0")),
    };
    let (initial, after) = if wants_initial {
        let plain = crate::request::Query::parse(None);
        let list_ctx = Ctx {
            query: &plain,
            ..*ctx
        };
        let listed = list_objects(&list_ctx, &filter).await?;
        (listed.objects()?, listed.revision)
    } else if matches!(rv, None | Some("0")) {
        // sendInitialEvents=false without a revision: start at the most recent one.
        (Vec::new(), ctx.objects.store().current_revision().await?)
    } else {
        let after = rv.and_then(|r| r.parse::<i64>().ok()).ok_or_else(|| {
            ApiError::bad_request(format!("invalid resource version: {:?}", rv.unwrap_or("")))
        })?;
        (Vec::new(), after)
    };
    let mut encoder = Encoder {
        strategy: Arc::clone(&strategy),
        rep: ctx.rep,
        query: q.clone(),
        sent_columns: false,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let subscription = cache.subscribe(after);
    let interval = settings.bookmark_interval.max(Duration::from_millis(100));
    tokio::spawn(async move {
        // Dropped when the stream ends, whichever way.
        let _on_close = on_close;
        let (backlog, mut live) = match subscription {
            Ok(s) => s,
            Err(too_old) => {
                let status = expired_status(format!(
                    "too old resource version: {} ({})",
                    too_old.requested, too_old.oldest
                ));
                let _ = tx.send(encoder.line("ERROR", &status)).await;
                return;
            }
        };
        for obj in &initial {
            if tx.send(encoder.line("ADDED", obj)).await.is_err() {
                return;
            }
        }
        if send_initial == Some(true) && bookmarks {
            let b = bookmark(strategy.as_ref(), after, true);
            if tx.send(encoder.line("BOOKMARK", &b)).await.is_err() {
                return;
            }
        }
        let mut processed = after;
        for ev in backlog {
            if ev.revision <= processed {
                continue;
            }
            processed = ev.revision;
            if let Some((t, obj)) = classify(strategy.as_ref(), &filter, &ev)
                && tx.send(encoder.line(t, &obj)).await.is_err()
            {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = shutdown.changed() => return,
                // The client went away: stop now rather than at the next event.
                _ = tx.closed() => return,
                _ = ticker.tick(), if bookmarks => {
                    let b = bookmark(strategy.as_ref(), processed, false);
                    if tx.send(encoder.line("BOOKMARK", &b)).await.is_err() { return; }
                }
                msg = live.recv() => match msg {
                    Ok(CacheMessage::Event(ev)) => {
                        if ev.revision <= processed { continue; }
                        processed = ev.revision;
                        if let Some((t, obj)) = classify(strategy.as_ref(), &filter, &ev)
                            && tx.send(encoder.line(t, &obj)).await.is_err() { return; }
                    }
                    Ok(CacheMessage::Reset) => {
                        let status = expired_status("the watch cache was reset; relist required".into());
                        let _ = tx.send(encoder.line("ERROR", &status)).await;
                        return;
                    }
                    // Too slow to keep up: end the stream; the client resumes from its last revision.
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    });
    let stream = ReceiverStream::new(rx).map(|b| Ok::<_, Infallible>(Frame::data(b)));
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}

/// Decides the event a client sees: selector transitions turn into ADDED/DELETED.
fn classify(
    strategy: &dyn KindStrategy,
    filter: &Filter,
    ev: &CacheEvent,
) -> Option<(&'static str, Value)> {
    let new_match = ev.event_type == EventType::Put && filter.matches(strategy, &ev.object);
    let old_match = match ev.event_type {
        EventType::Delete => filter.matches(strategy, &ev.object),
        EventType::Put => ev
            .prev
            .as_ref()
            .is_some_and(|p| filter.matches(strategy, p)),
    };
    match (ev.event_type, old_match, new_match) {
        (EventType::Delete, true, _) => Some(("DELETED", ev.object.clone())),
        (EventType::Put, false, true) => Some(("ADDED", ev.object.clone())),
        (EventType::Put, true, true) => Some(("MODIFIED", ev.object.clone())),
        (EventType::Put, true, false) => {
            let mut old = ev.prev.clone().unwrap_or_default();
            set_meta(
                &mut old,
                "resourceVersion",
                Some(Value::from(ev.revision.to_string())),
            );
            Some(("DELETED", old))
        }
        _ => None,
    }
}
