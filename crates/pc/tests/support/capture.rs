//! A `tracing` subscriber layer that keeps every span with its parent and fields, and every
//! event with the span it fell in: what the span tests of pools, pipelines and batch
//! processors read.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One span as the subscriber saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// A number of our own: the registry reuses span ids.
    pub(crate) key: usize,
    pub(crate) name: &'static str,
    pub(crate) target: String,
    pub(crate) parent: Option<usize>,
    pub(crate) fields: BTreeMap<String, String>,
    pub(crate) open: bool,
}

/// Everything captured: spans in the order they were made, and events with their span.
#[derive(Debug, Default)]
pub(crate) struct Log {
    pub(crate) spans: Vec<Seen>,
    /// `(message, key of the span it fell in)`.
    pub(crate) events: Vec<(String, Option<usize>)>,
}

impl Log {
    /// The key of the open span with `id`.
    fn key_of(&self, id: &Id) -> Option<usize> {
        let id = id.into_u64().to_string();
        self.spans
            .iter()
            .rev()
            .find(|s| s.open && s.fields.get("_id") == Some(&id))
            .map(|s| s.key)
    }

    pub(crate) fn named(&self, name: &str) -> Vec<Seen> {
        self.spans
            .iter()
            .filter(|s| s.name == name)
            .cloned()
            .collect()
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Log>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut log = self.0.lock().unwrap();
        let parent = ctx
            .span(id)
            .and_then(|span| span.parent())
            .and_then(|parent| log.key_of(&parent.id()));
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        fields.insert("_id".into(), id.into_u64().to_string());
        let key = log.spans.len();
        log.spans.push(Seen {
            key,
            name: attrs.metadata().name(),
            target: attrs.metadata().target().to_owned(),
            parent,
            fields,
            open: true,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut log = self.0.lock().unwrap();
        if let Some(key) = log.key_of(id) {
            values.record(&mut Fields(&mut log.spans[key].fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut log = self.0.lock().unwrap();
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let within = ctx
            .event_span(event)
            .and_then(|span| log.key_of(&span.id()));
        let message = fields.remove("message").unwrap_or_default();
        log.events.push((message, within));
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        let mut log = self.0.lock().unwrap();
        if let Some(key) = log.key_of(&id) {
            log.spans[key].open = false;
        }
    }
}

/// A subscriber for this thread (the tests run on a current-thread runtime, so every task
/// of the blocks runs here) and what it captures.
pub(crate) fn capture() -> (tracing::subscriber::DefaultGuard, Arc<Mutex<Log>>) {
    let capture = Capture::default();
    let log = Arc::clone(&capture.0);
    let subscriber = tracing_subscriber::registry().with(capture);
    (tracing::subscriber::set_default(subscriber), log)
}

pub(crate) fn field<'a>(span: &'a Seen, name: &str) -> &'a str {
    span.fields.get(name).map_or("", String::as_str)
}

/// The same capture as the process' global subscriber, for tasks on threads of their own
/// (the blocking pool); set once per test binary.
pub(crate) fn capture_globally() -> Arc<Mutex<Log>> {
    let capture = Capture::default();
    let log = Arc::clone(&capture.0);
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(capture))
        .expect("the first global subscriber of this test binary");
    log
}
