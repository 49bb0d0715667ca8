//! Protobuf messages of the metrics intake (PROTOCOLS.md §4), written by hand with prost's
//! derive: `MetricPayload` for `/api/v2/series`, `SketchPayload` for `/api/beta/sketches`.
//! Field numbers are the wire contract; legacy sketch fields 3, 5 and 6 are never used.

#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricPayload {
    #[prost(message, repeated, tag = "1")]
    pub series: Vec<MetricSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricSeries {
    #[prost(message, repeated, tag = "1")]
    pub resources: Vec<Resource>,
    #[prost(string, tag = "2")]
    pub metric: String,
    #[prost(string, repeated, tag = "3")]
    pub tags: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    pub points: Vec<MetricPoint>,
    #[prost(enumeration = "MetricType", tag = "5")]
    pub r#type: i32,
    #[prost(string, tag = "6")]
    pub unit: String,
    #[prost(string, tag = "7")]
    pub source_type_name: String,
    #[prost(int64, tag = "8")]
    pub interval: i64,
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<Metadata>,
}

#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct MetricPoint {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Seconds.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Resource {
    #[prost(string, tag = "1")]
    pub r#type: String,
    #[prost(string, tag = "2")]
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    Unspecified = 0,
    Count = 1,
    Rate = 2,
    Gauge = 3,
}

#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Metadata {
    #[prost(message, optional, tag = "1")]
    pub origin: Option<Origin>,
}

#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Origin {
    #[prost(uint32, tag = "4")]
    pub origin_product: u32,
    #[prost(uint32, tag = "5")]
    pub origin_category: u32,
    #[prost(uint32, tag = "6")]
    pub origin_service: u32,
}

/// Serverless Lambda origin of the extension's own metrics (enhanced `aws.lambda.enhanced.*`,
/// and `tandem.*`): product 1, category 38, service 473 (ServerlessEnhanced).
pub const LAMBDA_ORIGIN: Metadata = Metadata {
    origin: Some(Origin {
        origin_product: 1,
        origin_category: 38,
        origin_service: 473,
    }),
};

/// Custom metrics the function sends over DogStatsD: service 472 (ServerlessCustom), as
/// Datadog's extension labels them.
pub const CUSTOM_ORIGIN: Metadata = Metadata {
    origin: Some(Origin {
        origin_product: 1,
        origin_category: 38,
        origin_service: 472,
    }),
};

/// The origin of a metric by its name.
pub fn origin_for(metric: &str) -> Metadata {
    if metric.starts_with("aws.lambda.enhanced.") || metric.starts_with("tandem.") {
        LAMBDA_ORIGIN
    } else {
        CUSTOM_ORIGIN
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SketchPayload {
    #[prost(message, repeated, tag = "1")]
    pub sketches: Vec<SketchMsg>,
    #[prost(message, optional, tag = "2")]
    pub metadata: Option<CommonMetadata>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct CommonMetadata {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct SketchMsg {
    #[prost(string, tag = "1")]
    pub metric: String,
    #[prost(string, tag = "2")]
    pub host: String,
    #[prost(string, repeated, tag = "4")]
    pub tags: Vec<String>,
    #[prost(message, repeated, tag = "7")]
    pub dogsketches: Vec<Dogsketch>,
    #[prost(message, optional, tag = "8")]
    pub metadata: Option<Metadata>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Dogsketch {
    #[prost(int64, tag = "1")]
    pub ts: i64,
    #[prost(int64, tag = "2")]
    pub cnt: i64,
    #[prost(double, tag = "3")]
    pub min: f64,
    #[prost(double, tag = "4")]
    pub max: f64,
    #[prost(double, tag = "5")]
    pub avg: f64,
    #[prost(double, tag = "6")]
    pub sum: f64,
    #[prost(sint32, repeated, tag = "7")]
    pub k: Vec<i32>,
    #[prost(uint32, repeated, tag = "8")]
    pub n: Vec<u32>,
}
