//! What one flush took from the aggregator: the values, with their contexts' names shared (not
//! copied), turned into intake messages one at a time so that encoding never holds every series
//! of a flush in memory at once. Must not encode or ship.

use super::value::{Samples, Value, percentile};
use super::{BUCKET_SECS, ByHash, Ident};
use crate::metrics::proto::{
    CUSTOM_ORIGIN, Dogsketch, MetricPoint, MetricSeries, MetricType, SketchMsg, origin_for,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A flush's values, to emit.
#[derive(Debug, Default)]
pub struct Flushed {
    pub(super) buckets: BTreeMap<i64, ByHash<Value>>,
    pub(super) idents: ByHash<Arc<Ident>>,
    pub(super) common_tags: Arc<[String]>,
    /// `DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS`: tag names left off custom metrics.
    pub(super) custom_exclude: Arc<[String]>,
}

/// One message for the intake.
#[derive(Debug)]
pub enum Item {
    Series(MetricSeries),
    Sketch(SketchMsg),
}

/// Every message of a flush at once (tests and small batches).
#[derive(Debug, Default)]
pub struct Collected {
    pub series: Vec<MetricSeries>,
    pub sketches: Vec<SketchMsg>,
}

impl Flushed {
    pub fn is_empty(&self) -> bool {
        self.buckets.values().all(|b| b.is_empty())
    }

    /// Hands every message to `f`, one at a time; each is dropped once `f` has encoded it.
    pub fn for_each(self, mut f: impl FnMut(Item)) {
        for (ts, bucket) in self.buckets {
            for (key, value) in bucket {
                if let Some(ident) = self.idents.get(&key) {
                    let tags = Tags {
                        common: &self.common_tags,
                        exclude: if origin_for(&ident.name) == CUSTOM_ORIGIN {
                            &self.custom_exclude
                        } else {
                            &[]
                        },
                    };
                    emit(ident, &tags, ts, value, &mut f);
                }
            }
        }
    }

    /// Every message, materialised.
    pub fn collect(self) -> Collected {
        let mut out = Collected::default();
        self.for_each(|item| match item {
            Item::Series(s) => out.series.push(s),
            Item::Sketch(s) => out.sketches.push(s),
        });
        out
    }
}

/// What a flush adds to and takes from each context's own tags.
struct Tags<'a> {
    common: &'a [String],
    /// Tag names to leave off (the part before `:`, or a bare tag whole).
    exclude: &'a [String],
}

/// `tag`'s name (the part before `:`, or a bare tag whole) is one of `exclude`.
pub(super) fn excluded(exclude: &[String], tag: &str) -> bool {
    if exclude.is_empty() {
        return false;
    }
    let name = tag.split_once(':').map_or(tag, |(k, _)| k);
    exclude.iter().any(|x| x == name)
}

fn tags_of(ident: &Ident, tags: &Tags<'_>) -> Vec<String> {
    ident
        .tags
        .iter()
        .map(|t| t.to_string())
        .chain(tags.common.iter().cloned())
        .filter(|t| !excluded(tags.exclude, t))
        .collect()
}

fn emit(ident: &Ident, common: &Tags<'_>, ts: i64, value: Value, f: &mut impl FnMut(Item)) {
    let series = |name: String, kind: MetricType, v: f64, interval: i64| {
        Item::Series(MetricSeries {
            metric: name,
            tags: tags_of(ident, common),
            points: vec![MetricPoint {
                value: v,
                timestamp: ts,
            }],
            r#type: kind as i32,
            interval,
            metadata: Some(origin_for(&ident.name)),
            ..Default::default()
        })
    };
    let name = &ident.name;
    match value {
        Value::Count(c) => f(series(name.to_string(), MetricType::Count, c, BUCKET_SECS)),
        Value::Gauge(g) => f(series(name.to_string(), MetricType::Gauge, g, 0)),
        Value::Set(members) => f(series(
            name.to_string(),
            MetricType::Gauge,
            members.len() as f64,
            0,
        )),
        // A value whose every point was refused has nothing to say.
        Value::Samples(s) if s.count == 0.0 => {}
        Value::Samples(s) => {
            let Samples {
                count,
                sum,
                min: _,
                max,
                mut samples,
            } = *s;
            samples.sort_by(|a, b| a.0.total_cmp(&b.0));
            f(series(format!("{name}.max"), MetricType::Gauge, max, 0));
            f(series(
                format!("{name}.median"),
                MetricType::Gauge,
                percentile(&samples, 0.5),
                0,
            ));
            f(series(
                format!("{name}.avg"),
                MetricType::Gauge,
                sum / count,
                0,
            ));
            f(series(
                format!("{name}.count"),
                MetricType::Rate,
                count / BUCKET_SECS as f64,
                BUCKET_SECS,
            ));
            f(series(
                format!("{name}.95percentile"),
                MetricType::Gauge,
                percentile(&samples, 0.95),
                0,
            ));
        }
        Value::Sketch(s) if s.count() == 0 => {}
        Value::Sketch(s) => f(Item::Sketch(SketchMsg {
            metric: name.to_string(),
            host: String::new(),
            tags: tags_of(ident, common),
            dogsketches: vec![Dogsketch {
                ts,
                cnt: s.count() as i64,
                min: s.min(),
                max: s.max(),
                avg: s.avg(),
                sum: s.sum(),
                k: s.bins().iter().map(|(k, _)| *k).collect(),
                n: s.bins().iter().map(|(_, n)| u32::from(*n)).collect(),
            }],
            metadata: Some(origin_for(name)),
        })),
    }
}
